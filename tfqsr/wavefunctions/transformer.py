"""Decoder-only transformer quantum state (Zhang & Di Ventra, "Transformer quantum state").

The input at position t is the embedding of token t-1 (a learned start token at t = 0) plus,
optionally, a learned absolute position embedding; ``num_layers`` pre-norm decoder blocks with
relative causal attention follow, then a final layer norm and a softmax head over the
d = 2^w words. With ``phase=True`` a second head gives the phase of each token,
phi_t = pi * softsign(u_t), so phi(x) = sum_t phi_t(t_t | t_<t).

Relative attention alone makes the model translation invariant beyond the clipping distance;
the absolute embedding (on by default) lets open chains see their boundaries.
"""
import math

import keras
from keras import ops
import tensorflow as tf

from tfqsr.layers import TransformerDecoderBlock
from tfqsr.wavefunctions.base import AutoregressiveWavefunction


@keras.saving.register_keras_serializable(package="tfqsr")
class TransformerWavefunction(AutoregressiveWavefunction):
    """Transformer wavefunction over w-bit tokens.

    Args:
      n_sites: number of spins N (divisible by w = log2(dictionary_size)).
      dictionary_size: d = 2^w words per token (default 2), or None with a ``layout``.
      layout: a ``hilbert.TokenLayout`` (or its config), e.g. 2D patches; default words of w
        spins of a chain. Attention is over the token sequence in the layout's order.
      num_layers: decoder blocks (``-r``); num_heads: heads (``-h``), must divide d_model.
      d_model: residual width; ffn_dim: feed-forward width (default 4 d_model).
      clip_distance: relative-position clipping distance c >= 1 (``-c``).
      phase: add a phase head (complex log psi) for non-stoquastic Hamiltonians.
      absolute_positions: add a learned absolute position embedding.
    """

    def __init__(self, n_sites, dictionary_size=None, num_layers=2, num_heads=4, d_model=32,
                 clip_distance=10, phase=False, ffn_dim=None, absolute_positions=True, layout=None,
                 **kwargs):
        super().__init__(n_sites, dictionary_size, phase, layout, **kwargs)
        if num_layers < 1:  # heads and clipping distance are checked by the layers themselves
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.d_model = d_model
        self.clip_distance = clip_distance
        self.ffn_dim = ffn_dim or 4 * d_model
        self.absolute_positions = absolute_positions
        self.start_token = self.dictionary_size  # the embedding table has d + 1 rows
        self.embedding = keras.layers.Embedding(self.dictionary_size + 1, d_model, name="embedding")
        self.blocks = [TransformerDecoderBlock(num_heads, d_model, self.ffn_dim, clip_distance,
                                               name=f"block_{i}") for i in range(num_layers)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.amplitude_head = keras.layers.Dense(self.dictionary_size, name="amplitude_head")
        self.phase_head = keras.layers.Dense(self.dictionary_size, name="phase_head") if phase else None
        self.build((None, self.n_sites))

    def build(self, input_shape):
        hidden = (None, self.n_tokens, self.d_model)
        self.embedding.build((None, self.n_tokens))
        if self.absolute_positions:
            self.position_embedding = self.add_weight(
                name="position_embedding", shape=(self.n_tokens, self.d_model),
                initializer=keras.initializers.TruncatedNormal(stddev=0.02))
        for block in self.blocks:
            block.build(hidden)
        self.final_norm.build(hidden)
        self.amplitude_head.build(hidden)
        if self.phase_head is not None:
            self.phase_head.build(hidden)
        self.built = True

    # --- full-sequence path ---------------------------------------------------------------
    def embed(self, tokens):
        """Decoder input [B, T, D]: embeddings of (start, t_1, ..., t_{T-1}) plus positions.

        Row t holds the embedding of token t-1: the saliency of input token j is read at row j+1.
        """
        shifted = ops.concatenate(
            [ops.full_like(tokens[:, :1], self.start_token), tokens[:, :-1]], axis=1)
        h = self.embedding(shifted)
        if self.absolute_positions:
            h = h + self.position_embedding[None]
        return h

    def decode(self, h, attention_override=None, return_attention_scores=False):
        """Run the blocks and heads on decoder inputs ``h`` [B, T, D].

        Args:
          attention_override: optional list (one per layer) of [B, H, T, T] weights used instead
            of the softmax attention (see RelativeMultiHeadAttention).
          return_attention_scores: also return the list of per-layer weights.
        Returns (log-conditionals [B, T, d], phase table or None[, attention list]).
        """
        scores = []
        for index, block in enumerate(self.blocks):
            override = None if attention_override is None else attention_override[index]
            h, weights = block(h, attention_override=override, return_attention_scores=True)
            scores.append(weights)
        log_cond, phase = self._heads(self.final_norm(h))
        if return_attention_scores:
            return log_cond, phase, scores
        return log_cond, phase

    def _heads(self, h):
        log_cond = ops.log_softmax(self.amplitude_head(h), axis=-1)
        phase = None if self.phase_head is None else math.pi * ops.softsign(self.phase_head(h))
        return log_cond, phase

    def conditionals(self, tokens):
        return self.decode(self.embed(tokens))

    # --- incremental path with key/value cache --------------------------------------------
    def initial_decoder_state(self, batch_size):
        return tuple(block.attention.empty_cache(batch_size, self.n_tokens, self.compute_dtype)
                     for block in self.blocks)

    def decode_step(self, state, previous_token, position):
        token = tf.where(position > 0, previous_token, tf.fill(tf.shape(previous_token), self.start_token))
        h = self.embedding(token[:, None])
        if self.absolute_positions:
            h = h + tf.gather(self.position_embedding, position)[None, None]
        log_cond, phase, state = self._decode_rows(h, state, position)
        return log_cond[:, 0], None if phase is None else phase[:, 0], state

    def decode_from(self, state, tokens, start):
        return self._decode_rows(self.embed(tokens)[:, start:], state, start)

    def _decode_rows(self, h, state, start):
        """Heads on decoder inputs ``h`` [B, L, D] at rows start.., through the cached blocks."""
        new_state = []
        for block, cache in zip(self.blocks, state):
            h, cache = block.decode_step(h, cache, start)
            new_state.append(cache)
        log_cond, phase = self._heads(self.final_norm(h))
        return log_cond, phase, tuple(new_state)

    def get_config(self):
        config = super().get_config()
        config.update(num_layers=self.num_layers, num_heads=self.num_heads, d_model=self.d_model,
                      clip_distance=self.clip_distance, ffn_dim=self.ffn_dim,
                      absolute_positions=self.absolute_positions)
        return config
