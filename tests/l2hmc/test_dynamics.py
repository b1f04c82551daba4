"""The generalized leapfrog: exact inverses and log-determinants against tf.GradientTape
Jacobians on a 2 x 2 lattice (affine and NCP), sub-update by sub-update and for whole
trajectories; the per-chain direction split; Keras serialization."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfqsr.l2hmc.dynamics import LeapfrogDynamics
from tfqsr.l2hmc.lattice import U1Lattice

LATTICE = U1Lattice(2, 2, beta=2.0)
CHAINS = 3


def _dynamics(use_ncp, seed):
    keras.utils.set_random_seed(seed)
    dynamics = LeapfrogDynamics("u1", (2, 2, 2), nleapfrog=2, eps=0.3, use_ncp=use_ncp,
                                conv_filters=(2,), conv_sizes=(3,), units=(8,), mask_seed=seed,
                                dtype="float64")
    dynamics.build()
    rng = np.random.default_rng(seed)
    for weight in dynamics.trainable_weights:  # away from the near-identity initialization
        weight.assign(weight.numpy() + rng.normal(0, 0.3, weight.shape))
    return dynamics


@pytest.fixture(scope="module", params=[True, False], ids=["ncp", "affine"])
def setup(request):
    x = LATTICE.random_links(CHAINS, [1, 2], dtype=tf.float64)
    v = tf.random.stateless_normal(x.shape, [3, 4], dtype=tf.float64)
    return _dynamics(request.param, 5), x, v


def _force(x):
    return LATTICE.action_gradient(x)


def _angle_difference(a, b):
    return np.abs(np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b))))).max()


def test_forward_then_backward_is_the_identity(setup):
    dynamics, x, v = setup
    x1, v1, logdet1 = dynamics.forward(x, v, _force)
    x2, v2, logdet2 = dynamics.backward(x1, v1, _force)
    assert _angle_difference(x1, x) > 0.1  # it moved
    assert _angle_difference(x2, x) < 1e-12
    np.testing.assert_allclose(v2, v, atol=1e-12)
    np.testing.assert_allclose(logdet1 + logdet2, 0.0, atol=1e-12)
    # and backward then forward
    x3, v3, _ = dynamics.backward(x, v, _force)
    x4, v4, _ = dynamics.forward(x3, v3, _force)
    assert _angle_difference(x4, x) < 1e-12
    np.testing.assert_allclose(v4, v, atol=1e-12)


def _jacobian_logdet(fn, x, v):
    """log |det d(x', v')/d(x, v)| per chain from tf.GradientTape."""
    n = int(np.prod(x.shape[1:]))

    z = tf.concat([tf.reshape(x, [CHAINS, -1]), tf.reshape(v, [CHAINS, -1])], axis=1)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        x_new, v_new, logdet = fn(tf.reshape(z[:, :n], x.shape), tf.reshape(z[:, n:], x.shape))
        out = tf.concat([tf.reshape(x_new, [CHAINS, -1]), tf.reshape(v_new, [CHAINS, -1])], 1)
        rows = [out[:, i] for i in range(2 * n)]
    # one gradient per output coordinate: rows of the per-chain Jacobians (chains independent)
    matrix = tf.stack([tape.gradient(row, z) for row in rows], axis=1)
    return np.linalg.slogdet(matrix.numpy())[1], logdet.numpy()


def _sub_updates(dynamics, forward):
    """The four sub-updates of leapfrog step 1 as maps (x, v) -> (x', v', log-det)."""
    mask = tf.cast(dynamics.masks[1], tf.float64)

    def momentum(x, v):
        v, logdet = dynamics._momentum_update(1, x, v, _force(x), forward)
        return x, v, logdet

    def position(mask):
        def update(x, v):
            x, logdet = dynamics._position_update(1, x, v, mask, forward)
            return x, v, logdet
        return update
    return {"momentum": momentum, "position_m": position(mask), "position_m_bar": position(1 - mask)}


@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
@pytest.mark.parametrize("part", ["momentum", "position_m", "position_m_bar"])
def test_sub_update_logdet_equals_jacobian(setup, forward, part):
    dynamics, x, v = setup
    expected, logdet = _jacobian_logdet(_sub_updates(dynamics, forward)[part], x, v)
    assert np.abs(logdet).max() > 1e-3  # a non-trivial Jacobian
    np.testing.assert_allclose(logdet, expected, atol=1e-10)


def test_trajectory_logdet_equals_jacobian(setup):
    """The sum over a whole forward trajectory (the backward one is its inverse: see
    test_forward_then_backward_is_the_identity)."""
    dynamics, x, v = setup
    expected, logdet = _jacobian_logdet(lambda a, b: dynamics.forward(a, b, _force), x, v)
    np.testing.assert_allclose(logdet, expected, atol=1e-10)


def test_direction_per_chain_matches_separate_trajectories(setup):
    dynamics, x, v = setup
    direction = tf.constant([True, False, True])
    x_mixed, v_mixed, logdet = dynamics.transition(x, v, _force, direction)
    xf, vf, lf = dynamics.forward(x, v, _force)
    xb, vb, lb = dynamics.backward(x, v, _force)
    for got, f, b in ((x_mixed, xf, xb), (v_mixed, vf, vb), (logdet, lf, lb)):
        np.testing.assert_allclose(got, tf.where(
            tf.reshape(direction, [-1] + [1] * (len(f.shape) - 1)), f, b), atol=1e-12)


def test_masks_select_half_of_the_links_and_are_saved(setup, tmp_path):
    dynamics, x, v = setup
    masks = dynamics.masks.numpy()
    assert masks.shape == (2, 2, 2, 2) and (masks.reshape(2, -1).sum(1) == 4).all()
    path = tf.train.Checkpoint(dynamics=dynamics).write(str(tmp_path / "ckpt"))
    other = LeapfrogDynamics.from_config(dynamics.get_config())
    other.build()
    tf.train.Checkpoint(dynamics=other).read(path).assert_consumed()
    np.testing.assert_array_equal(other.masks.numpy(), masks)
    np.testing.assert_allclose(other.forward(x, v, _force)[0], dynamics.forward(x, v, _force)[0])
    assert keras.saving.get_registered_object("tfqsr>LeapfrogDynamics") is LeapfrogDynamics


def test_ncp_needs_a_compact_group():
    with pytest.raises(ValueError, match="compact"):
        LeapfrogDynamics("real", (2,), use_ncp=True)
