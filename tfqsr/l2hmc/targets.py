"""The toy targets of the L2HMC paper (Levy, Hoffman, Sohl-Dickstein 2018), in flat space, for
the same dynamics and kernel as the lattice: a target has ``group``, ``link_shape``,
``target_log_prob(x, beta=None)`` and ``action_gradient(x, beta=None)`` (the gradient of
U = -log p, by automatic differentiation; ``beta`` is ignored).

- ``CorrelatedGaussian``: the strongly correlated 2D Gaussian, mean 0, covariance
  [[50.05, -49.95], [-49.95, 50.05]] (variances 100 and 0.1 along the diagonals).
- ``GaussianMixture``: two isotropic 2D Gaussians, variance 0.1, at (+-2, 0), weights 1/2;
  mean 0, covariance diag(4.1, 0.1).
- ``RoughWell``: U(x) = x.x/2 + eta sum_i cos(x_i/eta), eta = 0.01 (a Gaussian with a
  fast-oscillating ripple of amplitude eta), in 2D; mean 0, covariance c I with c the second
  moment of the 1D factor by quadrature (close to 1).

Every target has ``covariance`` (numpy, exact or by quadrature; the mean is 0 for all three)
and ``sample(n, seed)``: exact draws for the Gaussian and the mixture; the rough well has no
closed-form sampler, so its ``sample`` draws N(0, I), the eta -> 0 limit, and is only a
start (``exact_sampler`` False: burn in longer).
"""
import numpy as np
import tensorflow as tf

from tfqsr.l2hmc.group import Group


class FlatTarget:
    """Base of the toy targets: subclasses define ``log_prob(x)`` for x [chains, dim]."""
    group = Group()
    exact_sampler = True  # ``sample`` draws from the target itself

    def __init__(self, dim=2):
        self.link_shape = (int(dim),)

    def target_log_prob(self, x, beta=None):
        return self.log_prob(x)

    def action_gradient(self, x, beta=None):
        with tf.GradientTape() as tape:
            tape.watch(x)
            log_p = self.log_prob(x)
        return -tape.gradient(log_p, x)


class CorrelatedGaussian(FlatTarget):
    """The strongly correlated Gaussian (module docstring); ``covariance`` is numpy."""
    covariance = np.array([[50.05, -49.95], [-49.95, 50.05]])

    def log_prob(self, x):
        precision = tf.constant(np.linalg.inv(self.covariance), x.dtype)
        return -0.5 * tf.einsum("ci,ij,cj->c", x, precision, x)

    def sample(self, n, seed):
        """Exact samples [n, 2] (numpy), for starts and references."""
        return np.random.default_rng(seed).multivariate_normal([0.0, 0.0], self.covariance, n)


class GaussianMixture(FlatTarget):
    """Two isotropic Gaussians of variance 0.1 at (+-2, 0), equal weights."""
    means = np.array([[-2.0, 0.0], [2.0, 0.0]])
    variance = 0.1

    def log_prob(self, x):
        means = tf.constant(self.means, x.dtype)
        squared = tf.reduce_sum(tf.square(x[:, None, :] - means[None]), axis=-1)
        return tf.reduce_logsumexp(-0.5 * squared / self.variance, axis=1)

    @property
    def covariance(self):
        """mean 0; covariance sum_k w_k m_k m_k^T + variance I = diag(4.1, 0.1)."""
        return np.mean([np.outer(m, m) for m in self.means], axis=0) + self.variance * np.eye(2)

    def sample(self, n, seed):
        """Exact samples [n, 2] (numpy): a component uniformly, plus N(0, variance I)."""
        rng = np.random.default_rng(seed)
        component = rng.integers(len(self.means), size=n)
        return self.means[component] + np.sqrt(self.variance) * rng.normal(size=(n, 2))


class RoughWell(FlatTarget):
    """U(x) = x.x/2 + eta sum cos(x/eta), eta = 0.01."""
    eta = 0.01

    def log_prob(self, x):
        eta = tf.constant(self.eta, x.dtype)
        return -(0.5 * tf.reduce_sum(x * x, axis=1) + eta * tf.reduce_sum(tf.cos(x / eta), axis=1))

    exact_sampler = False

    @property
    def covariance(self):
        """c I, c = E[x^2] of the 1D density exp(-x^2/2 - eta cos(x/eta)) by the trapezoid rule
        on [-12, 12] with 200 points per ripple period (the density factorizes)."""
        x = np.linspace(-12.0, 12.0, int(24.0 / (2 * np.pi * self.eta) * 200) + 1)
        density = np.exp(-0.5 * x * x - self.eta * np.cos(x / self.eta))
        second = np.trapezoid(x * x * density, x) / np.trapezoid(density, x)
        return second * np.eye(2)

    def sample(self, n, seed):
        """Not exact (no closed-form sampler): N(0, I) draws [n, 2], the eta -> 0 limit of
        the target, to start chains that are then burned in."""
        return np.random.default_rng(seed).normal(size=(n, 2))


TARGETS = {"correlated_gaussian": CorrelatedGaussian, "mixture": GaussianMixture,
           "rough_well": RoughWell}
