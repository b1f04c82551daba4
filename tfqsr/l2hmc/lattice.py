"""2D U(1) lattice gauge theory on a periodic nt x nx lattice.

Links are angles: ``x`` of shape [chains, 2, nt, nx], ``x[:, mu, t, s]`` the angle of the link
U_mu(n) = e^{i x_mu(n)} leaving site n = (t, s) in direction mu (0: t, 1: x), wrapped to
[-pi, pi). The plaquette angle of site n is

    theta_P(n) = x_0(n) + x_1(n + t) - x_0(n + x) - x_1(n)

(the phase of U_0(n) U_1(n+t) U_0(n+x)^dagger U_1(n)^dagger), the Wilson action

    S(x) = beta sum_P (1 - cos theta_P),

so the target density is exp(-S). Its gradient, used as the force of the leapfrog, is

    dS/dx_0(n) = beta [sin theta_P(n) - sin theta_P(n - x)],
    dS/dx_1(n) = beta [sin theta_P(n - t) - sin theta_P(n)].

Observables per chain: the average plaquette <cos theta_P>, the topological charge
Q_int = sum_P [theta_P]/(2 pi) with [.] the angle wrapped to [-pi, pi) (an integer on a periodic
lattice) and its differentiable proxy Q_sin = sum_P sin(theta_P)/(2 pi). Exact average plaquette:
I_1(beta)/I_0(beta) in infinite volume; on the periodic lattice with V plaquettes the character
expansion Z = sum_n I_n(beta)^V gives <cos theta_P> = (1/V) d ln Z/d beta
= sum_n I_n'(beta) I_n(beta)^(V-1) / sum_n I_n(beta)^V, with I_n' = (I_{n-1} + I_{n+1})/2.
"""
import math

import numpy as np
import tensorflow as tf
from scipy import special

from tfqsr.l2hmc.group import U1, wrap_angle
from tfqsr.validation import check, integer


class U1Lattice:
    """The periodic ``nt`` x ``nx`` U(1) lattice at coupling ``beta`` (module docstring).

    Methods take links ``x`` [chains, 2, nt, nx] and return one value per chain; ``beta``
    arguments (a float or a scalar tensor) override the lattice's coupling, so one lattice
    serves a run whose beta is annealed.
    """

    def __init__(self, nt, nx, beta=1.0):
        self.nt = integer("nt", nt, minimum=2)
        self.nx = integer("nx", nx, minimum=2)
        check(isinstance(beta, (int, float)) and not isinstance(beta, bool) and beta >= 0,
              "beta", "a real number >= 0", beta)
        self.beta = float(beta)
        self.group = U1()
        self.link_shape = (2, self.nt, self.nx)
        self.num_plaquettes = self.volume = self.nt * self.nx

    def __repr__(self):
        return f"U1Lattice(nt={self.nt}, nx={self.nx}, beta={self.beta})"

    def _beta(self, beta, dtype):
        return tf.cast(self.beta if beta is None else beta, dtype)

    def plaquette_angles(self, x):
        """theta_P(n) [chains, nt, nx], not wrapped."""
        x0, x1 = x[:, 0], x[:, 1]
        return x0 + tf.roll(x1, -1, axis=1) - tf.roll(x0, -1, axis=2) - x1

    def action(self, x, beta=None):
        """S(x) = beta sum_P (1 - cos theta_P) per chain."""
        theta = self.plaquette_angles(x)
        return self._beta(beta, x.dtype) * tf.reduce_sum(1.0 - tf.cos(theta), axis=[1, 2])

    def action_gradient(self, x, beta=None):
        """dS/dx [chains, 2, nt, nx] (module docstring)."""
        sin = tf.sin(self.plaquette_angles(x))
        d0 = sin - tf.roll(sin, 1, axis=2)
        d1 = tf.roll(sin, 1, axis=1) - sin
        return self._beta(beta, x.dtype) * tf.stack([d0, d1], axis=1)

    def target_log_prob(self, x, beta=None):
        """log of the unnormalized density exp(-S(x))."""
        return -self.action(x, beta)

    def plaquette_distance(self, x, y):
        """sum_P |e^{i theta_P(y)} - e^{i theta_P(x)}|^2 = sum_P 2 (1 - cos(theta_P(y) - theta_P(x)))
        per chain (the plaquette loss)."""
        dtheta = self.plaquette_angles(y) - self.plaquette_angles(x)
        return tf.reduce_sum(2.0 * (1.0 - tf.cos(dtheta)), axis=[1, 2])

    def plaquette(self, x):
        """<cos theta_P> over the plaquettes of each chain."""
        return tf.reduce_mean(tf.cos(self.plaquette_angles(x)), axis=[1, 2])

    def topological_charge(self, x, kind="int"):
        """Q per chain: "int", sum [theta_P]/(2 pi) (an integer, returned rounded); "sin",
        sum sin theta_P/(2 pi)."""
        check(kind in ("int", "sin"), "kind", "'int' or 'sin'", kind)
        theta = self.plaquette_angles(x)
        if kind == "sin":
            return tf.reduce_sum(tf.sin(theta), axis=[1, 2]) / (2 * math.pi)
        # an integer up to rounding of the sum: rounded, so histories and |dQ| are exact
        return tf.round(tf.reduce_sum(wrap_angle(theta), axis=[1, 2]) / (2 * math.pi))

    def random_links(self, chains, seed, dtype=tf.float32):
        """Links drawn uniformly (a hot start; stateless ``seed`` int32 [2])."""
        return tf.random.stateless_uniform([chains, *self.link_shape], seed, -math.pi, math.pi,
                                           dtype=dtype)

    def exact_plaquette(self, beta=None):
        """I_1(beta)/I_0(beta): <cos theta_P> in infinite volume."""
        beta = self.beta if beta is None else float(beta)
        return float(special.i1e(beta) / special.i0e(beta))

    def exact_plaquette_finite_volume(self, beta=None):
        """<cos theta_P> on this periodic lattice (character expansion, module docstring)."""
        beta = self.beta if beta is None else float(beta)
        volume = self.num_plaquettes
        n = np.arange(-(60 + int(4 * beta)), 61 + int(4 * beta))
        log_i = np.log(special.ive(n, beta))  # the common factor e^beta cancels in the ratio
        d_log_i = np.log(0.5 * (special.ive(n - 1, beta) + special.ive(n + 1, beta))) - log_i
        log_terms = volume * log_i
        weights = np.exp(log_terms - log_terms.max())
        return float(np.sum(weights * np.exp(d_log_i)) / np.sum(weights))
