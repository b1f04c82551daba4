"""The TFP kernels: the learned kernel leaves the correlated Gaussian invariant (mean and
covariance within 4 standard errors), rejects NaN proposals with the state unchanged, and HMC
on an 8 x 8 lattice reproduces the exact plaquette at beta = 1 and 3."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfqsr.l2hmc.dynamics import LeapfrogDynamics
from tfqsr.l2hmc.kernel import hmc_kernel, l2hmc_kernel, run_chain
from tfqsr.l2hmc.lattice import U1Lattice
from tfqsr.l2hmc.targets import CorrelatedGaussian


def _perturbed_dynamics(**kwargs):
    keras.utils.set_random_seed(0)
    dynamics = LeapfrogDynamics(dtype="float64", **kwargs)
    dynamics.build()
    rng = np.random.default_rng(7)
    for weight in dynamics.trainable_weights:  # a far-from-trivial (untrained) proposal
        weight.assign(weight.numpy() + rng.normal(0, 0.2, weight.shape))
    return dynamics


@pytest.mark.parametrize("merge_directions", [False, True], ids=["random_direction", "merged"])
def test_learned_kernel_leaves_the_correlated_gaussian_invariant(merge_directions):
    target = CorrelatedGaussian()
    dynamics = _perturbed_dynamics(group="real", link_shape=(2,), nleapfrog=3, eps=0.3,
                                   use_ncp=False, units=(16,))
    kernel = l2hmc_kernel(dynamics, target, merge_directions=merge_directions)
    chains, steps = 256, 40
    start = tf.constant(target.sample(chains, 0))  # exact samples: invariance keeps them exact
    observe = lambda x, r: {"x": x, "accepted": r.is_accepted}  # noqa: E731
    _, _, trace = tf.function(lambda s: run_chain(kernel, s, steps, tf.constant([1, 2]), observe),
                              autograph=False)(start)
    accepted = trace["accepted"].numpy().mean()
    assert 0.1 < accepted < 0.99, accepted  # it moves, and it is not a trivially accepted move
    x = trace["x"].numpy()[-1]  # the last step: independent chains, each distributed as the target
    cov = target.covariance
    mean_error = np.sqrt(np.diag(cov) / chains)
    assert (np.abs(x.mean(0)) < 4 * mean_error).all(), (x.mean(0), mean_error)
    sample_cov = np.cov(x.T)
    # Var of a sample covariance entry of a Gaussian: (S_ii S_jj + S_ij^2) / (n - 1)
    cov_error = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / (chains - 1))
    assert (np.abs(sample_cov - cov) < 4 * cov_error).all(), (sample_cov, cov_error)


class _NaNTarget(CorrelatedGaussian):
    """The correlated Gaussian whose density is NaN for x_0 > 0 (as TFP's testNanRejection)."""

    def log_prob(self, x):
        log_p = super().log_prob(x)
        return tf.where(x[:, 0] > 0, tf.constant(np.nan, x.dtype), log_p)


def test_nan_proposal_is_rejected_and_the_state_is_unchanged():
    target = _NaNTarget()
    dynamics = _perturbed_dynamics(group="real", link_shape=(2,), nleapfrog=2, eps=3.0,
                                   use_ncp=False, units=(8,))
    kernel = l2hmc_kernel(dynamics, target)
    state = tf.constant(np.tile([[-1.0, 1.0]], (64, 1)))
    results = kernel.bootstrap_results(state)
    new_state, results = kernel.one_step(state, results, seed=tf.constant([3, 4]))
    proposed = results.proposed_state.numpy()
    nan = proposed[:, 0] > 0
    assert nan.any() and (~nan).any()  # some proposals land in the NaN region, some do not
    assert not results.is_accepted.numpy()[nan].any()
    np.testing.assert_array_equal(new_state.numpy()[nan], state.numpy()[nan])
    assert np.isfinite(new_state.numpy()).all()


def test_infinite_log_det_is_rejected():
    """A proposal whose log-det is +inf would otherwise be accepted with probability 1."""
    target = CorrelatedGaussian()
    dynamics = _perturbed_dynamics(group="real", link_shape=(2,), nleapfrog=1, eps=0.5,
                                   use_ncp=False, units=(8,))
    dynamics.log_eps_v.assign([np.log(1e300)])  # exp(eps s) overflows
    kernel = l2hmc_kernel(dynamics, target)
    state = tf.constant(target.sample(16, 1))
    new_state, results = kernel.one_step(state, kernel.bootstrap_results(state), seed=tf.constant([5, 6]))
    assert not results.is_accepted.numpy().any()
    np.testing.assert_array_equal(new_state.numpy(), state.numpy())


@pytest.mark.parametrize("beta", [1.0, 3.0])
def test_hmc_reproduces_the_exact_plaquette(beta):
    lattice = U1Lattice(8, 8, beta)
    chains, burn_in, steps = 32, 60, 150
    kernel = hmc_kernel(lattice, step_size=0.2, num_leapfrog_steps=5,
                        num_adaptation_steps=burn_in, beta=beta)
    observe = lambda x, r: {"plaquette": lattice.plaquette(x),  # noqa: E731
                            "accepted": r.inner_results.is_accepted}
    start = lattice.random_links(chains, [7, 8], dtype=tf.float64)

    @tf.function(jit_compile=True, autograph=False)
    def sample(start):
        return run_chain(kernel, start, burn_in + steps, tf.constant([9, 10]), observe,
                         group=lattice.group)[2]
    trace = sample(start)
    plaquette = trace["plaquette"].numpy()[burn_in:]
    assert 0.5 < trace["accepted"].numpy()[burn_in:].mean() < 0.95
    # error: chain means are independent; their spread includes the autocorrelation
    chain_means = plaquette.mean(0)
    error = chain_means.std(ddof=1) / np.sqrt(chains)
    exact = lattice.exact_plaquette_finite_volume()
    assert abs(chain_means.mean() - exact) < 4 * error, (chain_means.mean(), exact, error)
    assert error < 0.01
