"""The toy targets against numpy densities, ESS per gradient evaluation of independent samples,
and a few training steps of the toy trainer."""
import numpy as np
import pytest
import tensorflow as tf

from tfqsr.l2hmc.targets import CorrelatedGaussian, GaussianMixture, RoughWell
from tfqsr.l2hmc.toy import ess_per_gradient, train_toy

X = np.random.default_rng(0).normal(size=(6, 2)) * 2


@pytest.mark.parametrize("target,log_prob", [
    (CorrelatedGaussian(), lambda x: -0.5 * np.einsum(
        "ci,ij,cj->c", x, np.linalg.inv([[50.05, -49.95], [-49.95, 50.05]]), x)),
    (GaussianMixture(), lambda x: np.log(np.exp(-((x - [-2, 0]) ** 2).sum(1) / 0.2)
                                         + np.exp(-((x - [2, 0]) ** 2).sum(1) / 0.2))),
    (RoughWell(), lambda x: -(0.5 * (x ** 2).sum(1) + 0.01 * np.cos(x / 0.01).sum(1))),
], ids=["correlated_gaussian", "mixture", "rough_well"])
def test_targets_match_numpy_and_their_force_is_the_gradient(target, log_prob):
    x = tf.constant(X)
    np.testing.assert_allclose(target.target_log_prob(x), log_prob(X), rtol=1e-10)
    h, numeric = 1e-6, np.zeros_like(X)
    for i in range(2):
        step = np.zeros_like(X)
        step[:, i] = h
        numeric[:, i] = -(log_prob(X + step) - log_prob(X - step)) / (2 * h)
    np.testing.assert_allclose(target.action_gradient(x), numeric, rtol=1e-5, atol=1e-5)


def test_ess_per_gradient_of_independent_samples():
    samples = np.random.default_rng(1).normal(size=(400, 16, 2))
    assert ess_per_gradient(samples, 4) == pytest.approx(0.25, rel=0.15)


@pytest.mark.slow
def test_toy_training_runs():
    dynamics, losses = train_toy(CorrelatedGaussian(), steps=3, chains=16, nleapfrog=1, units=(4,))
    assert len(losses) == 3 and np.isfinite(losses).all()
    assert dynamics.gradient_evaluations == 2
