"""Pre-norm transformer decoder block on relative causal self-attention.

    h <- h + Attn(LN(h));   h <- h + FFN(LN(h)),   FFN(u) = W2 GELU(W1 u)

Pre-normalization keeps the residual stream unnormalized, which trains stably without the
learning-rate warm-up being critical and lets ``decode_step`` reuse the same sublayers.
"""
import keras

from tfqsr.layers.relative_attention import RelativeMultiHeadAttention


@keras.saving.register_keras_serializable(package="tfqsr")
class TransformerDecoderBlock(keras.layers.Layer):
    """One decoder block. Args: num_heads, d_model, ffn_dim, clip_distance."""

    def __init__(self, num_heads, d_model, ffn_dim, clip_distance, **kwargs):
        super().__init__(**kwargs)
        if num_heads < 1 or d_model % num_heads:
            raise ValueError(f"num_heads ({num_heads}) must divide d_model ({d_model})")
        self.num_heads = num_heads
        self.d_model = d_model
        self.ffn_dim = ffn_dim
        self.clip_distance = clip_distance

    def build(self, input_shape):
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.attention = RelativeMultiHeadAttention(
            self.num_heads, self.d_model // self.num_heads, self.clip_distance, name="attention")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="ffn_norm")
        self.ffn_in = keras.layers.Dense(self.ffn_dim, activation="gelu", name="ffn_in")
        self.ffn_out = keras.layers.Dense(self.d_model, name="ffn_out")
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape)
        self.ffn_norm.build(input_shape)
        self.ffn_in.build(input_shape)
        self.ffn_out.build(tuple(input_shape[:-1]) + (self.ffn_dim,))
        super().build(input_shape)

    def _feed_forward(self, h):
        return h + self.ffn_out(self.ffn_in(self.ffn_norm(h)))

    def call(self, inputs, attention_override=None, return_attention_scores=False):
        """Block output [B, T, D]; with ``return_attention_scores`` also the weights [B, H, T, T]."""
        attended, weights = self.attention(
            self.attention_norm(inputs), attention_override=attention_override,
            return_attention_scores=True)
        outputs = self._feed_forward(inputs + attended)
        return (outputs, weights) if return_attention_scores else outputs

    def decode_step(self, inputs, cache, position):
        """Positions ``position, ...`` ([B, L, D]) with the attention key/value cache (see
        RelativeMultiHeadAttention.decode_step)."""
        attended, cache = self.attention.decode_step(self.attention_norm(inputs), cache, position)
        return self._feed_forward(inputs + attended), cache

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, d_model=self.d_model, ffn_dim=self.ffn_dim,
                      clip_distance=self.clip_distance)
        return config
