"""Pre-norm causal transformer block on absolute-position attention, with dropout:

    h <- h + Drop(Attn(LN(h)));   h <- h + Drop(FFN(LN(h))),   FFN(u) = W2 GELU(W1 u)

the block of the patched transformers (PTF, LPTF). Dropout acts only in Keras's training mode
(``layer(x, training=True)``); ``decode_step`` is always inference.
"""
import keras

from tfqsr.layers.causal_attention import CausalSelfAttention


@keras.saving.register_keras_serializable(package="tfqsr")
class CausalTransformerBlock(keras.layers.Layer):
    """One block. Args: num_heads (must divide d_model), d_model, ffn_dim, dropout in [0, 1)."""

    def __init__(self, num_heads, d_model, ffn_dim, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if num_heads < 1 or d_model % num_heads:
            raise ValueError(f"num_heads ({num_heads}) must divide d_model ({d_model})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.num_heads = num_heads
        self.d_model = d_model
        self.ffn_dim = ffn_dim
        self.dropout = dropout

    def build(self, input_shape):
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.attention = CausalSelfAttention(self.num_heads, self.d_model // self.num_heads, name="attention")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="ffn_norm")
        self.ffn_in = keras.layers.Dense(self.ffn_dim, activation="gelu", name="ffn_in")
        self.ffn_out = keras.layers.Dense(self.d_model, name="ffn_out")
        self.residual_dropout = keras.layers.Dropout(self.dropout, name="residual_dropout")
        for layer in (self.attention_norm, self.attention, self.ffn_norm, self.ffn_in):
            layer.build(input_shape)
        self.ffn_out.build(tuple(input_shape[:-1]) + (self.ffn_dim,))
        super().build(input_shape)

    def _feed_forward(self, h, training):
        return h + self.residual_dropout(self.ffn_out(self.ffn_in(self.ffn_norm(h))), training=training)

    def call(self, inputs, training=None):
        attended = self.attention(self.attention_norm(inputs))
        return self._feed_forward(inputs + self.residual_dropout(attended, training=training), training)

    def decode_step(self, inputs, cache, position):
        """Positions ``position, ...`` ([B, L, D]) with the attention key/value cache."""
        attended, cache = self.attention.decode_step(self.attention_norm(inputs), cache, position)
        return self._feed_forward(inputs + attended, False), cache

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, d_model=self.d_model, ffn_dim=self.ffn_dim,
                      dropout=self.dropout)
        return config
