"""Causal multi-head self-attention with absolute positions (no relative terms) and a key/value
cache, for models whose positions enter through their inputs (the patched transformers' 2D
positional encoding).

For a query at position i and keys at positions j <= i:

    A^h_ij = softmax_j(q^h_i . k^h_j / sqrt(d_k))         (j > i masked out)
    z_i    = sum_h W^O_h sum_j A^h_ij v^h_j

``call`` runs a whole sequence; ``decode_step`` runs positions ``position, ...`` given the
keys and values of the earlier ones (one position when sampling, a suffix when the prefix of
a sequence is shared with a cached one), exactly as ``RelativeMultiHeadAttention`` does.
"""
import keras
from keras import ops

from tfqsr.layers.cache import slice_update


@keras.saving.register_keras_serializable(package="tfqsr")
class CausalSelfAttention(keras.layers.Layer):
    """Causal self-attention (see the module docstring).

    Args:
      num_heads: number of heads H.
      key_dim: width d_k of each head; the output width equals the input width.
    """

    def __init__(self, num_heads, key_dim, **kwargs):
        super().__init__(**kwargs)
        if num_heads < 1 or key_dim < 1:
            raise ValueError(f"num_heads and key_dim must be >= 1, got {num_heads}, {key_dim}")
        self.num_heads = num_heads
        self.key_dim = key_dim

    def build(self, input_shape):
        heads = (self.num_heads, self.key_dim)
        self.query_dense = keras.layers.EinsumDense("btd,dhk->bthk", (None,) + heads, name="query")
        self.key_dense = keras.layers.EinsumDense("btd,dhk->bthk", (None,) + heads, name="key")
        self.value_dense = keras.layers.EinsumDense("btd,dhk->bthk", (None,) + heads, name="value")
        self.output_dense = keras.layers.EinsumDense("bthk,hkd->btd", (None, input_shape[-1]), name="output")
        for dense in (self.query_dense, self.key_dense, self.value_dense):
            dense.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + heads)
        super().build(input_shape)

    def _attend(self, inputs, keys, values, position):
        """Outputs [B, L, D] of queries from ``inputs`` (positions position..position+L-1)
        attending to ``keys``, ``values`` [B, T, H, k] at positions <= their own."""
        query = self.query_dense(inputs)
        logits = ops.einsum("bqhk,bthk->bhqt", query, keys) * (1.0 / float(self.key_dim) ** 0.5)
        mask = ops.arange(ops.shape(keys)[1])[None, :] <= ops.arange(inputs.shape[1])[:, None] + position
        weights = ops.softmax(ops.where(mask, logits, ops.full_like(logits, -1e9)), axis=-1)
        return self.output_dense(ops.einsum("bhqt,bthk->bqhk", weights, values))

    def call(self, inputs):
        """Causal self-attention over ``inputs`` [B, T, D]."""
        return self._attend(inputs, self.key_dense(inputs), self.value_dense(inputs), 0)

    def empty_cache(self, batch_size, max_length, dtype="float32"):
        """A zero key/value cache for ``decode_step``: two tensors [B, T_max, H, k]."""
        shape = (batch_size, max_length, self.num_heads, self.key_dim)
        return ops.zeros(shape, dtype), ops.zeros(shape, dtype)

    def decode_step(self, inputs, cache, position):
        """(outputs [B, L, D] at positions ``position, ..., position + L - 1``, the cache with
        their keys and values written); ``cache`` = (keys, values) [B, T_max, H, k], entries
        before ``position`` used, the rest ignored."""
        keys, values = cache
        start = (0, position, 0, 0)
        keys = slice_update(keys, start, ops.cast(self.key_dense(inputs), keys.dtype))
        values = slice_update(values, start, ops.cast(self.value_dense(inputs), values.dtype))
        return self._attend(inputs, keys, values, position), (keys, values)

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, key_dim=self.key_dim)
        return config
