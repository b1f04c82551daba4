import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_layer_test
from tfqsr.layers import RelativeMultiHeadAttention, TransformerDecoderBlock


def _inputs(batch=3, length=7, width=8, seed=0):
    return tf.random.stateless_normal([batch, length, width], seed=[seed, 1])


def test_attention_layer_contract():
    """Query, key, value and output kernels (no biases) and the two relative embeddings."""
    run_layer_test(RelativeMultiHeadAttention, dict(num_heads=2, key_dim=4, clip_distance=3), _inputs(),
                   expected_output_shape=(3, 7, 8), expected_num_trainable_weights=6)


def test_decoder_block_layer_contract():
    """The attention's 6 weights, 2 layer norms (scale, offset), 2 dense layers (kernel, bias)."""
    run_layer_test(TransformerDecoderBlock, dict(num_heads=2, d_model=8, ffn_dim=16, clip_distance=3),
                   _inputs(), expected_output_shape=(3, 7, 8), expected_num_trainable_weights=14)


def test_attention_is_causal():
    layer = RelativeMultiHeadAttention(num_heads=2, key_dim=4, clip_distance=2)
    x = _inputs()
    changed = tf.concat([x[:, :4], x[:, 4:] + 1.0], axis=1)
    np.testing.assert_allclose(layer(x)[:, :4], layer(changed)[:, :4], atol=1e-6)
    assert not np.allclose(layer(x)[:, 4:], layer(changed)[:, 4:])


def test_attention_weights_are_causal_and_normalized():
    layer = RelativeMultiHeadAttention(num_heads=2, key_dim=4, clip_distance=2)
    _, weights = layer(_inputs(), return_attention_scores=True)
    weights = weights.numpy()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    assert np.all(np.triu(weights, k=1) == 0)


def test_relative_attention_matches_explicit_formula():
    """e_ij = q_i.(k_j + a^K_{min(i-j,c)})/sqrt(d), z_i = sum_j A_ij (v_j + a^V_{min(i-j,c)})."""
    layer = RelativeMultiHeadAttention(num_heads=1, key_dim=4, clip_distance=2)
    x = _inputs(batch=1, length=5, width=4)
    _, weights = layer(x, return_attention_scores=True)
    q, k = layer.query_dense(x)[0, :, 0].numpy(), layer.key_dense(x)[0, :, 0].numpy()
    a_k = layer.relative_keys.numpy()
    expected = np.zeros((5, 5))
    for i in range(5):
        logits = np.array([q[i] @ (k[j] + a_k[min(i - j, 2)]) / 2.0 for j in range(i + 1)])
        expected[i, : i + 1] = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(weights[0, 0], expected, atol=1e-6)


@pytest.mark.parametrize("layer", [
    RelativeMultiHeadAttention(num_heads=2, key_dim=4, clip_distance=3),
    TransformerDecoderBlock(num_heads=2, d_model=8, ffn_dim=16, clip_distance=3),
], ids=["attention", "block"])
def test_decode_step_matches_full_sequence(layer):
    x = _inputs(length=9)
    full = layer(x)
    cache = tuple(tf.zeros([3, 9, 2, 4]) for _ in range(2))
    outputs = []
    for position in range(9):
        out, cache = layer.decode_step(x[:, position:position + 1], cache, tf.constant(position))
        outputs.append(out)
    np.testing.assert_allclose(tf.concat(outputs, axis=1), full, atol=2e-5)


def test_attention_override_with_own_weights_is_identity_and_differentiable():
    layer = RelativeMultiHeadAttention(num_heads=2, key_dim=4, clip_distance=2)
    x = _inputs()
    out, weights = layer(x, return_attention_scores=True)
    with tf.GradientTape() as tape:
        tape.watch(weights)
        replayed = layer(x, attention_override=weights)
        loss = tf.reduce_sum(replayed ** 2)
    np.testing.assert_allclose(replayed, out, atol=1e-6)
    grad = tape.gradient(loss, weights)
    assert grad is not None and np.any(grad.numpy() != 0)
    # With all weights zero nothing is attended to (the projections have no bias).
    np.testing.assert_allclose(layer(x, attention_override=0.0 * weights), 0.0, atol=1e-7)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="clip_distance"):
        RelativeMultiHeadAttention(num_heads=2, key_dim=4, clip_distance=0)
    with pytest.raises(ValueError, match="must divide d_model"):
        TransformerDecoderBlock(num_heads=3, d_model=8, ffn_dim=16, clip_distance=2)


@pytest.mark.parametrize("start", [0, 1, 4, 8])
def test_decode_step_recomputes_a_suffix_from_the_cache_of_another_sequence(start):
    """Rows start.. of a sequence that agrees with a cached one before ``start``."""
    layer = TransformerDecoderBlock(num_heads=2, d_model=8, ffn_dim=16, clip_distance=3)
    reference, other = _inputs(length=9, seed=0), _inputs(length=9, seed=1)
    changed = tf.concat([reference[:, :start], other[:, start:]], axis=1)
    expected = layer(changed)[:, start:]
    _, cache = layer.decode_step(reference, tuple(tf.zeros([3, 9, 2, 4]) for _ in range(2)), 0)
    suffix, _ = layer.decode_step(changed[:, start:], cache, start)
    np.testing.assert_allclose(suffix, expected, atol=2e-5)
