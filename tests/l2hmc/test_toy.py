"""The toy targets against numpy densities, the two ESS estimators on independent and AR(1)
samples, a few training steps of the toy trainer (with the burn-in term) and, marked slow, the
training to convergence against tuned HMC on the correlated Gaussian."""
import numpy as np
import pytest
import tensorflow as tf

from tfqsr.l2hmc.targets import CorrelatedGaussian, GaussianMixture, RoughWell
from tfqsr.l2hmc.toy import (compare_with_hmc, ess_per_gradient, reference_ess_per_gradient,
                             train_toy)

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
    assert reference_ess_per_gradient(samples, 4, np.sqrt(2.0)) == pytest.approx(0.25, rel=0.05)


def test_reference_ess_of_an_ar1_process():
    """AR(1) with coefficient a: rho_t = a^t, ESS per sample (1 - a) / (1 + a) when nothing is
    cut (here the cut at 0.05 drops the tail sum_{a^t <= 0.05} a^t, computed exactly)."""
    a, rng = 0.8, np.random.default_rng(2)
    x = np.zeros((4000, 32, 1))
    x[0] = rng.normal(size=(32, 1))
    for t in range(1, len(x)):
        x[t] = a * x[t - 1] + np.sqrt(1 - a * a) * rng.normal(size=(32, 1))
    rho = a ** np.arange(1, 200)
    expected = 1 / (1 + 2 * rho[rho > 0.05].sum())
    assert reference_ess_per_gradient(x, 1, 1.0) == pytest.approx(expected, rel=0.1)


def test_toy_training_steps_run_with_the_burn_in_term():
    dynamics, history = train_toy(CorrelatedGaussian(), steps=3, chains=16, nleapfrog=1, units=(4,))
    assert len(history["loss"]) == 3 and np.isfinite(history["loss"]).all()
    assert ((history["acceptance"] >= 0) & (history["acceptance"] <= 1)).all()
    assert dynamics.gradient_evaluations == 2


@pytest.mark.slow
def test_trained_sampler_beats_tuned_hmc_on_the_correlated_gaussian():
    """The reference's training (5000 steps); the gain over HMC with its step size tuned at the
    paper's 10 leapfrog steps. Minutes on an idle 2-core CPU."""
    target = CorrelatedGaussian()
    dynamics, history = train_toy(target, steps=5000)
    result = compare_with_hmc(target, dynamics, steps=1000, burn_in=200, hmc_leapfrog_steps=(10,))
    assert result["gain"] > 1.0, result
