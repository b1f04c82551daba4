"""Precisions of the U(1) trainer on a 4 x 4 lattice built by ``build_trainer``: fp64 keeps the
links, the networks and the learned trajectory in float64 and the trajectory reverses to 1e-12;
fp16 computes the networks in float16 (Keras mixed_float16: float32 weights) with float32 links,
and gradients through it are finite. Marked slow (tracing the second-order training step takes
about a minute on a loaded 2-core CPU): two training steps of each, float64 throughout, and
finite loss, gradients (Adam applied) and chains in fp16."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfqsr.l2hmc.config import L2HMCConfig
from tfqsr.l2hmc.kernel import propose
from tfqsr.l2hmc.trainer import build_trainer
from tfqsr.runtime.distributed import Distributed

CONFIG = dict(nt=4, nx=4, beta_init=1.0, beta_final=1.0, eras=1, steps_per_era=2, chains=4,
              nleapfrog=1, conv_filters=(2,), conv_sizes=(3,), units=(8,), lr=0.01, seed=3)


def _trainer(precision):
    keras.utils.set_random_seed(3)
    return build_trainer(L2HMCConfig(precision=precision, **CONFIG), Distributed(use_horovod=False))


def _networks(dynamics):
    return dynamics.position_networks + dynamics.momentum_networks


def _angle_difference(a, b):
    return np.abs(np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b))))).max()


def test_fp64_links_networks_and_trajectory_are_float64():
    trainer = _trainer("fp64")
    assert trainer.chains.dtype == tf.float64
    assert all(v.dtype == tf.float64 for v in trainer.dynamics.variables)
    for network in _networks(trainer.dynamics):
        assert network.compute_dtype == "float64" and network.variable_dtype == "float64"
    x = trainer.chains[:2]
    s, t, q = trainer.dynamics.momentum_networks[0](trainer.lattice.group.features(x),
                                                    trainer.lattice.action_gradient(x))
    assert s.dtype == t.dtype == q.dtype == tf.float64
    proposal = propose(trainer.dynamics, trainer.lattice, x, tf.constant([1, 2]))
    assert proposal.state.dtype == proposal.log_accept_ratio.dtype == tf.float64


def test_fp64_trajectory_is_reversible_to_1e_12():
    trainer = _trainer("fp64")
    dynamics, lattice = trainer.dynamics, trainer.lattice
    rng = np.random.default_rng(0)
    for weight in dynamics.trainable_weights:  # away from the near-identity initialization
        weight.assign(weight.numpy() + rng.normal(0, 0.3, weight.shape))
    x = tf.identity(trainer.chains)
    v = tf.random.stateless_normal(x.shape, [3, 4], dtype=tf.float64)
    force = lambda y: lattice.action_gradient(y)  # noqa: E731
    x1, v1, logdet1 = dynamics.forward(x, v, force)
    x2, v2, logdet2 = dynamics.backward(x1, v1, force)
    assert x1.dtype == v1.dtype == logdet1.dtype == tf.float64
    assert _angle_difference(x1, x) > 0.1  # it moved
    assert _angle_difference(x2, x) < 1e-12
    np.testing.assert_allclose(v2, v, atol=1e-12)
    np.testing.assert_allclose(logdet1 + logdet2, 0.0, atol=1e-12)


def test_fp16_networks_compute_in_float16_with_float32_links():
    trainer = _trainer("fp16")
    dynamics, lattice = trainer.dynamics, trainer.lattice
    assert trainer.chains.dtype == tf.float32
    assert dynamics.dtype_policy.name == "mixed_float16"
    for network in _networks(dynamics):
        assert network.compute_dtype == "float16" and network.variable_dtype == "float32"
    assert all(v.dtype == tf.float32 for v in dynamics.trainable_variables)  # float32 masters
    x = trainer.chains[:2]
    s, t, q = dynamics.position_networks[0](lattice.group.features(x), x)
    assert s.dtype == t.dtype == q.dtype == tf.float16  # the networks' outputs
    # the trajectory itself (links, momenta, log-det) stays float32
    proposal = propose(dynamics, lattice, x, tf.constant([1, 2]))
    assert proposal.state.dtype == proposal.log_accept_ratio.dtype == tf.float32
    # gradients through the float16 networks, taken directly: finite and float32
    with tf.GradientTape() as tape:
        proposal = propose(dynamics, lattice, x, tf.constant([5, 6]))
        loss = tf.reduce_mean(proposal.log_accept_ratio)
    gradients = tape.gradient(loss, dynamics.trainable_variables)
    assert all(g is None or (g.dtype == tf.float32 and np.isfinite(g.numpy()).all()) for g in gradients)


@pytest.mark.slow
def test_fp64_training_steps_stay_float64():
    trainer = _trainer("fp64")
    for step in (1, 2):
        metrics = trainer.step(step)
        assert bool(metrics["finite"]) and np.isfinite(float(metrics["loss"])), metrics
    assert trainer.chains.dtype == tf.float64
    assert all(v.dtype == tf.float64 for v in trainer.dynamics.variables)


@pytest.mark.slow
def test_fp16_training_steps_have_finite_loss_and_gradients():
    trainer = _trainer("fp16")
    dynamics = trainer.dynamics
    before = [v.numpy() for v in dynamics.trainable_variables]
    for step in (1, 2):
        metrics = trainer.step(step)
        assert bool(metrics["finite"]), metrics  # loss and every gradient finite: Adam applied
        assert np.isfinite(float(metrics["loss"])) and np.isfinite(float(metrics["sumlogdet"]))
    assert trainer.chains.dtype == tf.float32 and np.isfinite(trainer.chains.numpy()).all()
    after = [v.numpy() for v in dynamics.trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))  # gradients were applied
