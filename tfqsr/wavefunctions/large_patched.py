"""Large patched transformer wavefunction (LPTF of NN-QSR: Sprague & Czischek, "Variational
Monte Carlo with large patched transformers", 2024).

The lattice is cut into G large patches (e.g. 4x4), each into S small patches (e.g. 2x2) of k
spins: a ``hilbert.NestedPatchLayout``, whose T = G S tokens are the small patches, large
patch by large patch. A patched transformer runs over the large patches (the PTF decoder of
``tfqsr.wavefunctions.patched`` without its head, input the previous large patch's K = S k
spins): its output c_g [Nh] at large patch g has seen the large patches < g only. A
subsampler then generates large patch g as a sequence of its S small patches, conditioned on
c_g:

  * ``subsampler="rnn"``: ``TokenRNN`` (GRU or Elman) with initial hidden state h_{-1} = c_g,
    so its width must be the transformer's (``sub_Nh == Nh``);
        p(s_j | s_<j, large patches < g) = softmax(head(h_j)),  h_j = cell(h_{j-1}, onehot(s_{j-1}));
  * ``subsampler="ptf"``: a patched transformer over the S small patches (2D positions inside
    the large patch, width ``sub_Nh``) with W_c c_g + b_c added to each of its decoder inputs.

So p(x) = prod_g prod_j p(s_{g,j} | s_{g,<j}, c_g) is normalized exactly, log psi = 1/2 log p,
and no softmax over the 2^K values of a large patch is ever formed.

Decoder state (sampling and ``decode_from``): the transformer's key/value caches over large
patches, the conditioning table c [B, G, Nh], the subsampler's state per large patch
([B, G, S, ...]: RNN hidden states, or the subsampler's key/value caches) and the tokens so far.
``decode_from(state, tokens, start)`` (rows before ``start`` unchanged, token ``start - 1``
possibly changed) recomputes the transformer from large patch ceil(start / S) on, the
subsampler from ``start`` inside its large patch and afresh for the large patches after it.
"""
import keras
from keras import ops
import tensorflow as tf

from tfqsr import hilbert, validation
from tfqsr.layers.cache import slice_update
from tfqsr.wavefunctions.base import AutoregressiveWavefunction
from tfqsr.wavefunctions.patched import (PatchTransformerCore, previous_token_bits, token_bits,
                                         token_grid_positions, transformer_arguments)
from tfqsr.wavefunctions.rnn import TokenRNN, rnn_type

SUBSAMPLERS = ("rnn", "ptf")


class _RNNSubsampler:
    """The RNN subsampler's per-large-patch operations; group state: hidden states [B, S, Nh]."""

    def __init__(self, rnn, group_size):
        self.rnn, self.group_size = rnn, group_size

    def empty(self, batch_size, dtype):
        return ops.zeros((batch_size, self.group_size, self.rnn.Nh), dtype)

    def full(self, condition, tokens, training=None):
        return self.rnn.head(self.rnn.run(condition, self.rnn.previous_tokens(tokens)))

    def run(self, condition, tokens, history, start):
        hidden = condition if start == 0 else history[:, start - 1]
        states = self.rnn.run(hidden, self.rnn.previous_tokens(tokens)[:, start:])
        return self.rnn.head(states), ops.concatenate([history[:, :start], states], axis=1)

    def step(self, condition, previous_token, history, position):
        first = position == 0
        hidden = tf.where(first, condition, tf.gather(history, tf.maximum(position - 1, 0), axis=1))
        hidden = self.rnn.step(hidden, tf.where(first, self.rnn.start_token, previous_token))
        return self.rnn.head(hidden), slice_update(history, (0, position, 0), hidden[:, None])


class _PTFSubsampler:
    """The transformer subsampler's per-large-patch operations; group state: its key/value
    caches [B, S, H, d_k] per block."""

    def __init__(self, core, condition_dense):
        self.core, self.condition_dense = core, condition_dense

    def empty(self, batch_size, dtype):
        return self.core.empty_cache(batch_size)

    def full(self, condition, tokens, training=None):
        return self.core(tokens, conditioning=self.condition_dense(condition), training=training)

    def run(self, condition, tokens, cache, start):
        bits = previous_token_bits(tokens, self.core.token_size)[:, start:]
        h = self.core.embed(bits, start) + self.condition_dense(condition)[:, None]
        h, cache = self.core.decode(h, cache, start)
        return self.core.head(h), cache

    def step(self, condition, previous_token, cache, position):
        bits = token_bits(previous_token, self.core.token_size) * tf.cast(position > 0, tf.float32)
        h = self.core.embed(bits[:, None], position) + self.condition_dense(condition)[:, None]
        h, cache = self.core.decode(h, cache, position)
        return self.core.head(h[:, 0]), cache


@keras.saving.register_keras_serializable(package="tfqsr")
class LargePatchedTransformer(AutoregressiveWavefunction):
    """Large patched transformer (see the module docstring).

    ``LargePatchedTransformer(n_sites, *, layout, Nh=128, num_layers=2, nhead=8, dropout=0.0,
    subsampler="rnn", sub_Nh=None, rnntype="GRU", sub_num_layers=2, sub_nhead=8)``
    (``nheads=`` accepted for ``nhead``)

    Args:
      n_sites: number of spins N.
      layout: a ``hilbert.NestedPatchLayout(lattice, large_patch, small_patch)`` (or its
        config): the transformer runs over the large patches, the subsampler over the small
        patches of each.
      Nh, num_layers, nhead, dropout: the large-patch transformer's width (a multiple of 4 and
        of ``nhead``), blocks, heads and residual dropout (Keras training mode only).
      subsampler: "rnn" or "ptf" (any case).
      sub_Nh: the subsampler's width (default ``Nh``); for "rnn" it must equal ``Nh``.
      rnntype: the RNN subsampler's cell, "GRU" or "ELMAN".
      sub_num_layers, sub_nhead: the transformer subsampler's blocks and heads.

    log psi = 1/2 log p (real; ``phase`` is always False).
    """

    def __init__(self, n_sites, *, layout, Nh=128, num_layers=2, nhead=None, dropout=0.0, nheads=None,
                 subsampler="rnn", sub_Nh=None, rnntype="GRU", sub_num_layers=2, sub_nhead=None, **kwargs):
        super().__init__(n_sites, None, False, layout, **kwargs)
        validation.check(isinstance(self.layout, hilbert.NestedPatchLayout), "layout",
                         "a NestedPatchLayout (small patches inside large ones)", self.layout)
        self.Nh, self.num_layers, self.nhead, self.dropout = transformer_arguments(
            Nh, num_layers, nhead, nheads, dropout)
        name = subsampler.lower() if isinstance(subsampler, str) else subsampler
        validation.check(name in SUBSAMPLERS, "subsampler", f"one of {', '.join(SUBSAMPLERS)}", subsampler)
        self.subsampler = name
        self.rnntype = rnn_type(rnntype)
        self.n_groups, self.group_size = self.layout.n_groups, self.layout.tokens_per_group
        large_size = self.group_size * self.layout.token_size
        large_patches = hilbert.PatchLayout(self.layout.lattice, self.layout.large_patch)
        self.transformer = PatchTransformerCore(
            large_size, token_grid_positions(large_patches), self.Nh, self.num_layers, self.nhead,
            self.dropout, name="transformer")
        if name == "rnn":
            self.sub_Nh = validation.integer("sub_Nh", self.Nh if sub_Nh is None else sub_Nh, minimum=1)
            validation.check(self.sub_Nh == self.Nh, "sub_Nh",
                             f"equal to Nh={self.Nh} (the transformer's output is the RNN's initial "
                             "hidden state)", sub_Nh)
            self.sub_num_layers, self.sub_nhead = sub_num_layers, sub_nhead
            self.rnn = TokenRNN(self.dictionary_size, self.sub_Nh, self.rnntype, name="rnn")
            self._sub = _RNNSubsampler(self.rnn, self.group_size)
        else:
            self.sub_Nh, self.sub_num_layers, self.sub_nhead, _ = transformer_arguments(
                self.Nh if sub_Nh is None else sub_Nh, sub_num_layers, sub_nhead, None, dropout, "sub_")
            self.sub_transformer = PatchTransformerCore(
                self.layout.token_size,
                token_grid_positions(hilbert.PatchLayout(self.layout.large_patch, self.layout.small_patch)),
                self.sub_Nh, self.sub_num_layers, self.sub_nhead, self.dropout, self.dictionary_size,
                name="sub_transformer")
            self.condition_dense = keras.layers.Dense(self.sub_Nh, name="condition_dense")
            self._sub = _PTFSubsampler(self.sub_transformer, self.condition_dense)
        self.build((None, self.n_sites))

    def build(self, input_shape):
        self.transformer.build()
        if self.subsampler == "rnn":
            self.rnn.build()
        else:
            self.sub_transformer.build()
            self.condition_dense.build((None, self.Nh))
        self.built = True

    # --- helpers ------------------------------------------------------------------------
    def _groups(self, tensor):
        """[B, T, ...] -> [B, G, S, ...]."""
        return tf.reshape(tensor, tf.concat([[-1, self.n_groups, self.group_size], tf.shape(tensor)[2:]], 0))

    def _large_inputs(self, tokens):
        """The transformer's inputs [B, G, K]: the spins of the previous large patch (zeros first)."""
        bits = token_bits(tokens, self.layout.token_size)
        bits = tf.reshape(bits, [-1, self.n_groups, self.group_size * self.layout.token_size])
        return ops.concatenate([ops.zeros_like(bits[:, :1]), bits[:, :-1]], axis=1)

    def _fold(self, tensor):
        """[B, n, ...] -> [B n, ...]."""
        return tf.reshape(tensor, tf.concat([[-1], tf.shape(tensor)[2:]], 0))

    def _unfold(self, tensor, n):
        """[B n, ...] -> [B, n, ...]."""
        return tf.reshape(tensor, tf.concat([[-1, n], tf.shape(tensor)[1:]], 0))

    # --- the base's methods -------------------------------------------------------------
    def call(self, inputs, training=None):
        """Log-conditionals [B, T, d] of spins [B, N] (dropout when ``training``)."""
        return self._conditionals(self.layout.to_tokens(inputs), training)

    def conditionals(self, tokens):
        return self._conditionals(tokens, None), None

    def _conditionals(self, tokens, training):
        h = self.transformer.embed(self._large_inputs(tokens), 0)
        condition = self.transformer.transform(h, training=training)  # [B, G, Nh]
        log_cond = self._sub.full(self._fold(condition), self._fold(self._groups(tokens)), training)
        return tf.reshape(log_cond, [-1, self.n_tokens, self.dictionary_size])

    def initial_decoder_state(self, batch_size):
        sub = tf.nest.map_structure(lambda t: self._unfold(t, self.n_groups),
                                    self._sub.empty(batch_size * self.n_groups, self.compute_dtype))
        return (self.transformer.empty_cache(batch_size),
                ops.zeros((batch_size, self.n_groups, self.Nh), self.compute_dtype),
                sub, ops.zeros((batch_size, self.n_tokens), "int32"))

    def decode_step(self, state, previous_token, position):
        cache, condition, sub, tokens = state
        group, index = position // self.group_size, position % self.group_size
        tokens = ops.slice_update(tokens, (0, tf.maximum(position - 1, 0)), previous_token[:, None])

        def next_large_patch():
            inputs = tf.gather(self._large_inputs(tokens), group, axis=1)[:, None]
            c, new_cache = self.transformer.decode(self.transformer.embed(inputs, group), cache, group)
            return new_cache, slice_update(condition, (0, group, 0), c)

        cache, condition = tf.cond(index == 0, next_large_patch, lambda: (cache, condition))
        group_state = tf.nest.map_structure(lambda t: tf.gather(t, group, axis=1), sub)
        log_cond, group_state = self._sub.step(tf.gather(condition, group, axis=1), previous_token,
                                               group_state, index)
        def write(table, rows):
            return slice_update(table, (0, group) + (0,) * (len(table.shape) - 2), rows[:, None])

        sub = tf.nest.map_structure(write, sub, group_state)
        return log_cond, None, (cache, condition, sub, tokens)

    def decode_from(self, state, tokens, start):
        cache, condition, sub, _ = state
        group, index = divmod(start, self.group_size)
        # Rows < start are unchanged, token start - 1 may differ: transformer row g sees the
        # tokens before g S, so rows from ceil(start / S) on are recomputed.
        large_start = -(-start // self.group_size)
        if large_start < self.n_groups:
            h = self.transformer.embed(self._large_inputs(tokens)[:, large_start:], large_start)
            new_condition, cache = self.transformer.decode(h, cache, large_start)
            condition = ops.concatenate([condition[:, :large_start], new_condition], axis=1)
        groups = self._groups(tokens)
        rows, sub_parts = [], [tf.nest.map_structure(lambda t: t[:, :group], sub)]
        if index > 0:  # the rest of the large patch in which the change starts
            group_state = tf.nest.map_structure(lambda t: t[:, group], sub)
            log_cond, group_state = self._sub.run(condition[:, group], groups[:, group], group_state, index)
            rows.append(log_cond)
            sub_parts.append(tf.nest.map_structure(lambda t: t[:, None], group_state))
        first_full = group + (index > 0)
        if first_full < self.n_groups:  # every later large patch afresh, all in one batch
            n = self.n_groups - first_full
            empty = self._sub.empty(tf.shape(tokens)[0] * n, self.compute_dtype)
            log_cond, group_state = self._sub.run(self._fold(condition[:, first_full:]),
                                                  self._fold(groups[:, first_full:]), empty, 0)
            rows.append(tf.reshape(log_cond, [-1, n * self.group_size, self.dictionary_size]))
            sub_parts.append(tf.nest.map_structure(lambda t: self._unfold(t, n), group_state))
        sub = tf.nest.map_structure(lambda *parts: ops.concatenate(parts, axis=1), *sub_parts)
        return ops.concatenate(rows, axis=1), None, (cache, condition, sub, tokens)

    def get_config(self):
        config = super().get_config()
        for name in ("phase", "dictionary_size"):
            del config[name]  # always False; the layout's
        config.update(Nh=self.Nh, num_layers=self.num_layers, nhead=self.nhead, dropout=self.dropout,
                      subsampler=self.subsampler, sub_Nh=self.sub_Nh, rnntype=self.rnntype,
                      sub_num_layers=self.sub_num_layers, sub_nhead=self.sub_nhead)
        return config
