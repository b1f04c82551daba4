"""The toy targets of the L2HMC paper (Levy, Hoffman, Sohl-Dickstein 2018), in flat space, for
the same dynamics and kernel as the lattice: a target has ``group``, ``link_shape``,
``target_log_prob(x, beta=None)`` and ``action_gradient(x, beta=None)`` (the gradient of
U = -log p, by automatic differentiation; ``beta`` is ignored).

- ``CorrelatedGaussian``: the strongly correlated 2D Gaussian, mean 0, covariance
  [[50.05, -49.95], [-49.95, 50.05]] (variances 100 and 0.1 along the diagonals).
- ``GaussianMixture``: two isotropic 2D Gaussians, variance 0.1, at (+-2, 0), weights 1/2.
- ``RoughWell``: U(x) = x.x/2 + eta sum_i cos(x_i/eta), eta = 0.01 (a Gaussian with a
  fast-oscillating ripple of amplitude eta), in 2D.
"""
import numpy as np
import tensorflow as tf

from tfqsr.l2hmc.group import Group


class FlatTarget:
    """Base of the toy targets: subclasses define ``log_prob(x)`` for x [chains, dim]."""
    group = Group()

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


class RoughWell(FlatTarget):
    """U(x) = x.x/2 + eta sum cos(x/eta), eta = 0.01."""
    eta = 0.01

    def log_prob(self, x):
        eta = tf.constant(self.eta, x.dtype)
        return -(0.5 * tf.reduce_sum(x * x, axis=1) + eta * tf.reduce_sum(tf.cos(x / eta), axis=1))


TARGETS = {"correlated_gaussian": CorrelatedGaussian, "mixture": GaussianMixture,
           "rough_well": RoughWell}
