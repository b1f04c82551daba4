"""Causal multi-head self-attention with learned relative-position embeddings.

Shaw, Uszkoreit & Vaswani (2018), "Self-Attention with Relative Position Representations".
For a query at position i and a key at position j <= i (causal), with the clipped distance
r_ij = min(i - j, c):

    e^h_ij = q^h_i . (k^h_j + a^K_{r_ij}) / sqrt(d_k)
    A^h_ij = softmax_j(e^h_ij)            (j > i masked out)
    z^h_i  = sum_j A^h_ij (v^h_j + a^V_{r_ij})

The relative embeddings a^K, a^V (c + 1 rows of width d_k) are shared by all heads. Distances
beyond the clipping distance c share one embedding, so the layer generalizes to any length.

Two call paths compute the same function:
  * ``call`` processes a whole sequence at once (training, log-probabilities). It can return
    the attention weights and accept replacement weights (``attention_override``), which the
    saliency metrics use to differentiate with respect to the attention weights themselves.
  * ``decode_step`` processes new positions given a key/value cache of the earlier ones: one
    position at a time for autoregressive sampling (O(T) per token instead of O(T^2)), or the
    suffix of a sequence whose prefix is shared with a cached one.
"""
import keras
from keras import ops
import tensorflow as tf


def clipped_distances(n_queries, n_keys, clip_distance, query_offset=0):
    """Integer matrix r_ij = clip(i + query_offset - j, 0, clip_distance), shape [n_queries, n_keys]."""
    i = ops.arange(n_queries)[:, None] + query_offset
    j = ops.arange(n_keys)[None, :]
    return ops.clip(i - j, 0, clip_distance)


@keras.saving.register_keras_serializable(package="tfqsr")
class RelativeMultiHeadAttention(keras.layers.Layer):
    """Causal self-attention with relative-position keys and values (see module docstring).

    Args:
      num_heads: number of heads H.
      key_dim: width d_k of each head; the output width equals the input width.
      clip_distance: c >= 1, the largest distinguished relative distance.
    """

    def __init__(self, num_heads, key_dim, clip_distance, **kwargs):
        super().__init__(**kwargs)
        if num_heads < 1 or key_dim < 1:
            raise ValueError(f"num_heads and key_dim must be >= 1, got {num_heads}, {key_dim}")
        if clip_distance < 1:
            raise ValueError(f"clip_distance must be >= 1, got {clip_distance}")
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.clip_distance = clip_distance

    def build(self, input_shape):
        width = input_shape[-1]
        heads = (self.num_heads, self.key_dim)
        self.query_dense = keras.layers.EinsumDense("btd,dhk->bthk", (None,) + heads, name="query")
        self.key_dense = keras.layers.EinsumDense("btd,dhk->bthk", (None,) + heads, name="key")
        self.value_dense = keras.layers.EinsumDense("btd,dhk->bthk", (None,) + heads, name="value")
        self.output_dense = keras.layers.EinsumDense("bthk,hkd->btd", (None, width), name="output")
        for dense in (self.query_dense, self.key_dense, self.value_dense):
            dense.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + heads)
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        self.relative_keys = self.add_weight(
            name="relative_keys", shape=(self.clip_distance + 1, self.key_dim), initializer=initializer)
        self.relative_values = self.add_weight(
            name="relative_values", shape=(self.clip_distance + 1, self.key_dim), initializer=initializer)
        super().build(input_shape)

    def _masked_softmax(self, content, position, mask):
        logits = (content + position) * (1.0 / float(self.key_dim) ** 0.5)
        return ops.softmax(ops.where(mask, logits, ops.full_like(logits, -1e9)), axis=-1)

    def _band_width(self, length):
        """Number n of distinct near distances 0..n-1 below the clip, and whether a far bucket exists."""
        return min(self.clip_distance, length), self.clip_distance < length

    def _relative_logits(self, query):
        """q_i . a^K_{min(i-j,c)} for all i, j of a full sequence: [B, H, T, T] (j > i arbitrary).

        Written as a band (distances < c, a few diagonals) plus a constant far term, which costs
        O(T c) per row instead of a one-hot product over all (i, j, r).
        """
        length = query.shape[1]
        n_band, has_far = self._band_width(length)
        scores = ops.einsum("bqhk,rk->bhqr", query, self.relative_keys)  # [B, H, T, c + 1]
        far = scores[..., self.clip_distance:] if has_far else ops.zeros_like(scores[..., :1])
        diagonals = ops.transpose(scores[..., :n_band] - far, (0, 1, 3, 2))  # [B, H, n, T]
        if n_band == 1:  # one diagonal: tf.linalg.diag takes it without the diagonal axis
            diagonals = diagonals[:, :, 0]
        band = tf.linalg.diag(diagonals, k=(-(n_band - 1), 0), num_rows=length, num_cols=length,
                              align="LEFT_RIGHT")
        return band + far

    def _relative_values(self, weights):
        """sum_j A_ij a^V_{min(i-j,c)} for a full sequence: [B, T, H, k] (same band split)."""
        length = weights.shape[-1]
        n_band, has_far = self._band_width(length)
        far = self.relative_values[self.clip_distance] if has_far else ops.zeros_like(self.relative_values[0])
        diagonals = tf.linalg.diag_part(weights, k=(-(n_band - 1), 0), align="LEFT_RIGHT")
        if n_band == 1:
            diagonals = diagonals[:, :, None]
        # diagonals[b, h, r, i] = A_{i, i-r} (zero where i < r)
        near = ops.einsum("bhrq,rk->bqhk", diagonals, self.relative_values[:n_band] - far)
        return near + ops.einsum("bhq,k->bqhk", ops.sum(weights, axis=-1), far)

    def call(self, inputs, attention_override=None, return_attention_scores=False):
        """Causal self-attention over ``inputs`` [B, T, D].

        Args:
          attention_override: optional [B, H, T, T] weights used instead of the softmax (e.g.
            alpha * A for integrated gradients); the result is then differentiable with respect
            to them.
          return_attention_scores: also return the weights [B, H, T, T] that were used.
        """
        length = inputs.shape[1]
        query = self.query_dense(inputs)
        keys = self.key_dense(inputs)
        values = self.value_dense(inputs)
        mask = ops.arange(length)[:, None] >= ops.arange(length)[None, :]
        weights = self._masked_softmax(
            ops.einsum("bqhk,bthk->bhqt", query, keys), self._relative_logits(query), mask)
        if attention_override is not None:
            weights = attention_override
        attended = ops.einsum("bhqt,bthk->bqhk", weights, values) + self._relative_values(weights)
        outputs = self.output_dense(attended)
        if return_attention_scores:
            return outputs, weights
        return outputs

    def empty_cache(self, batch_size, max_length, dtype="float32"):
        """A zero key/value cache for ``decode_step``: two tensors [B, T_max, H, k]."""
        shape = (batch_size, max_length, self.num_heads, self.key_dim)
        return ops.zeros(shape, dtype), ops.zeros(shape, dtype)

    def decode_step(self, inputs, cache, position):
        """Attention outputs at new positions ``position, ..., position + L - 1`` given the cache.

        Args:
          inputs: [B, L, D] the inputs at those positions (L = 1 when sampling token by token;
            L > 1 recomputes a whole suffix of a sequence whose prefix is cached).
          cache: (keys, values), each [B, T_max, H, k]; entries at positions < ``position``
            are used, the rest are ignored.
          position: scalar integer (tensor or int), the position of the first input row.
        Returns:
          ([B, L, D] outputs, updated cache with these positions' keys and values written).
        """
        keys, values = cache
        length, max_length = inputs.shape[1], ops.shape(keys)[1]
        query = self.query_dense(inputs)
        start = (0, position, 0, 0)
        keys = ops.slice_update(keys, start, ops.cast(self.key_dense(inputs), keys.dtype))
        values = ops.slice_update(values, start, ops.cast(self.value_dense(inputs), values.dtype))
        distances = clipped_distances(length, max_length, self.clip_distance, query_offset=position)
        onehot = ops.one_hot(distances, self.clip_distance + 1, dtype=query.dtype)  # [L, T, c + 1]
        relative_keys = ops.matmul(onehot, self.relative_keys)  # a^K_{r_ij}: [L, T, k]
        position_logits = ops.einsum("bqhk,qtk->bhqt", query, relative_keys)
        content_logits = ops.einsum("bqhk,bthk->bhqt", query, keys)
        mask = ops.arange(max_length)[None, :] <= ops.arange(length)[:, None] + position
        weights = self._masked_softmax(content_logits, position_logits, mask)
        attended = (ops.einsum("bhqt,bthk->bqhk", weights, values)
                    + ops.einsum("bhqt,qtk->bqhk", weights, ops.matmul(onehot, self.relative_values)))
        return self.output_dense(attended), (keys, values)

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, key_dim=self.key_dim, clip_distance=self.clip_distance)
        return config
