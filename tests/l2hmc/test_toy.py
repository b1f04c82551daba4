"""The toy targets against numpy densities, the mixture's exact sampler and moments (and the
learned kernel keeping its exact draws exact), the rough well's second moment and start, the two
ESS estimators on independent and AR(1) samples, a few training steps of the toy trainer (with
the burn-in term) and, marked slow, the training to convergence against tuned HMC on the
correlated Gaussian."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfqsr.l2hmc.dynamics import LeapfrogDynamics
from tfqsr.l2hmc.kernel import l2hmc_kernel, run_chain
from tfqsr.l2hmc.targets import TARGETS, CorrelatedGaussian, GaussianMixture, RoughWell
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


# The mixture 0.5 N((-2, 0), 0.1 I) + 0.5 N((2, 0), 0.1 I): mean 0, covariance diag(4.1, 0.1);
# Var(x0^2) = E x0^4 - 4.1^2 = (16 + 6 * 4 * 0.1 + 3 * 0.01) - 16.81 = 1.62,
# Var(x0 x1) = E x0^2 E x1^2 = 0.41, Var(x1^2) = 3 * 0.01 - 0.01 = 0.02.
MIXTURE_COVARIANCE = np.diag([4.1, 0.1])
MIXTURE_PRODUCT_VARIANCE = np.array([[1.62, 0.41], [0.41, 0.02]])


def _assert_mixture_moments(x):
    """Mean and covariance (about the known mean 0) of draws x [n, 2] within 4 standard errors."""
    n = len(x)
    mean_error = np.sqrt(np.diag(MIXTURE_COVARIANCE) / n)
    assert (np.abs(x.mean(0)) < 4 * mean_error).all(), (x.mean(0), mean_error)
    second = x.T @ x / n
    second_error = np.sqrt(MIXTURE_PRODUCT_VARIANCE / n)
    assert (np.abs(second - MIXTURE_COVARIANCE) < 4 * second_error).all(), (second, second_error)


def test_mixture_sampler_has_the_mixture_moments():
    target = GaussianMixture()
    np.testing.assert_allclose(target.covariance, MIXTURE_COVARIANCE, atol=1e-15)
    assert target.exact_sampler
    x = target.sample(20000, 0)
    assert x.shape == (20000, 2)
    _assert_mixture_moments(x)
    # both components, equally often (binomial, 4 standard errors), each of variance 0.1
    right = x[:, 0] > 0
    assert abs(right.mean() - 0.5) < 4 * np.sqrt(0.25 / len(x))
    np.testing.assert_allclose(x[right].mean(0), [2, 0], atol=4 * np.sqrt(0.1 / right.sum()))
    np.testing.assert_array_equal(target.sample(5, 1), target.sample(5, 1))


def test_rough_well_second_moment_and_its_inexact_start():
    """The ripple's Fourier components under the Gaussian are ~exp(-1 / (2 eta^2)): the second
    moment is 1 to rounding; the start is N(0, I) and says it is not exact."""
    target = RoughWell()
    np.testing.assert_allclose(target.covariance, np.eye(2), atol=1e-9)
    assert not target.exact_sampler
    x = target.sample(20000, 0)
    assert x.shape == (20000, 2) and abs(x.std() - 1) < 0.02
    for name, cls in TARGETS.items():
        assert cls().covariance.shape == (2, 2) and cls().sample(3, 0).shape == (3, 2), name


@pytest.mark.slow
def test_learned_kernel_keeps_exact_mixture_draws_exact():
    """As the correlated Gaussian's invariance test (test_kernel.py): exact starts stay exact
    after 40 trajectories of a perturbed (untrained) learned sampler."""
    keras.utils.set_random_seed(0)
    dynamics = LeapfrogDynamics("real", (2,), nleapfrog=3, eps=0.3, use_ncp=False, units=(16,),
                                dtype="float64")
    dynamics.build()
    rng = np.random.default_rng(7)
    for weight in dynamics.trainable_weights:
        weight.assign(weight.numpy() + rng.normal(0, 0.2, weight.shape))
    target = GaussianMixture()
    kernel = l2hmc_kernel(dynamics, target)
    chains, steps = 512, 40
    observe = lambda x, r: {"x": x, "accepted": r.is_accepted}  # noqa: E731
    _, _, trace = tf.function(lambda s: run_chain(kernel, s, steps, tf.constant([1, 2]), observe),
                              autograph=False)(tf.constant(target.sample(chains, 0)))
    accepted = trace["accepted"].numpy().mean()
    assert 0.1 < accepted < 0.99, accepted
    _assert_mixture_moments(trace["x"].numpy()[-1])


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
