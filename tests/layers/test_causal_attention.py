"""The absolute-position causal attention, its block and the 2D sinusoidal encoding of the
patched transformers."""
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_layer_test
from tfqsr.layers.causal_attention import CausalSelfAttention
from tfqsr.layers.causal_block import CausalTransformerBlock
from tfqsr.layers.positional_encoding import sinusoidal_2d
from tfqsr.validation import ConfigError


def _inputs(batch=3, length=7, width=8, seed=0):
    return tf.random.stateless_normal([batch, length, width], seed=[seed, 1])


def test_attention_layer_contract():
    """Query, key, value and output kernels (no biases)."""
    run_layer_test(CausalSelfAttention, dict(num_heads=2, key_dim=4), _inputs(),
                   expected_output_shape=(3, 7, 8), expected_num_trainable_weights=4)


def test_block_layer_contract():
    """The attention's 4 kernels, 2 layer norms (scale, offset), 2 dense layers (kernel, bias)."""
    run_layer_test(CausalTransformerBlock, dict(num_heads=2, d_model=8, ffn_dim=16, dropout=0.1),
                   _inputs(), expected_output_shape=(3, 7, 8), expected_num_trainable_weights=12)


def test_attention_equals_numpy_softmax_attention():
    """z_i = W_O sum_j softmax_j(q_i.k_j / sqrt(d_k)) v_j over j <= i, in numpy."""
    layer = CausalSelfAttention(num_heads=2, key_dim=4)
    x = _inputs()
    got = layer(x).numpy()
    q, k, v = (np.einsum("btd,dhk->bthk", x.numpy(), np.asarray(d.kernel))
               for d in (layer.query_dense, layer.key_dense, layer.value_dense))
    logits = np.einsum("bqhk,bthk->bhqt", q, k) / 2.0
    logits = np.where(np.tril(np.ones((7, 7), bool)), logits, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    expected = np.einsum("bqhk,hkd->bqd", np.einsum("bhqt,bthk->bqhk", weights, v),
                         np.asarray(layer.output_dense.kernel))
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_block_decode_step_equals_full_pass():
    """Cached decoding of a prefix then the suffix, and token by token, equal the full pass."""
    block = CausalTransformerBlock(num_heads=2, d_model=8, ffn_dim=16)
    x = _inputs()
    full = block(x).numpy()
    cache = block.attention.empty_cache(3, 7)
    prefix, cache = block.decode_step(x[:, :3], cache, 0)
    suffix, _ = block.decode_step(x[:, 3:], cache, 3)
    np.testing.assert_allclose(np.concatenate([prefix, suffix], axis=1), full, atol=1e-5)
    cache, rows = block.attention.empty_cache(3, 7), []
    for position in range(7):
        row, cache = block.decode_step(x[:, position:position + 1], cache, tf.constant(position))
        rows.append(row)
    np.testing.assert_allclose(np.concatenate(rows, axis=1), full, atol=1e-5)


def test_block_dropout_acts_only_in_training():
    block = CausalTransformerBlock(num_heads=2, d_model=8, ffn_dim=16, dropout=0.5)
    x = _inputs()
    np.testing.assert_array_equal(block(x), block(x, training=False))
    assert not np.allclose(block(x, training=True), block(x))


def test_sinusoidal_2d_closed_form():
    table = sinusoidal_2d([[0, 0], [2, 3]], 8)
    w = 10000.0 ** (-np.arange(2) / 2)
    expected = [np.ravel(np.stack([np.sin(c * w), np.cos(c * w)], -1)) for c in (2, 3)]
    np.testing.assert_allclose(table[1], np.concatenate(expected), atol=1e-6)
    np.testing.assert_allclose(table[0], [0, 1, 0, 1] * 2)


def test_sinusoidal_2d_width_not_a_multiple_of_4():
    with pytest.raises(ConfigError, match="Nh must be a multiple of 4"):
        sinusoidal_2d([[0, 0]], 6)
