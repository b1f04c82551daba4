"""Autoregressive wavefunctions: the base every model in the package builds on.

A configuration x of N spins is read as T tokens t_1..t_T of k spins each, in the order of the
model's token layout (``tfqsr.hilbert.TokenLayout``: words of a chain, 2D patches, nested
patches; d = 2^k values per token). The model gives normalized conditionals, so

    p(x)       = prod_t p(t_t | t_<t),            sum_x p(x) = 1 exactly,
    log psi(x) = 1/2 log p(x) + i phi(x),         phi(x) = sum_t phi_t(t_t | t_<t),

and exact samples are drawn token by token (no Markov chain, no autocorrelation).

Subclasses implement three methods:
  * ``conditionals(tokens)``: log p(. | t_<t) for every position at once, [B, T, d], and the
    per-token phase table [B, T, d] (or None for a positive wavefunction);
  * ``initial_decoder_state(batch_size)`` and ``decode_step(state, previous_token, position)``:
    the incremental form with a cache (key/value cache, hidden state) used by ``sample``.
Optionally, ``decode_from(state, tokens, start)`` recomputes the rows ``start..T-1`` of the
conditionals from the cache of a full pass (``decode_from(initial_state, tokens, 0)``) of a
sequence sharing the tokens before ``start``. With it, ``log_psi_connected`` evaluates psi at
configurations that differ from a reference only from some site on (the connected
configurations of a local operator, flipped or swapped configurations) recomputing only what
changed: about half the work of full passes for single-site changes spread along the chain.
Rows before a column's start are the reference's, read at the column's tokens in one gather;
the rest come from ``recomputed_rows`` (by default one ``decode_from`` call per group of
columns sharing a start; a model may override it, as the RNN does with one recurrence in
which every column joins at its own start). ``sample_with_log_psi`` keeps the log p gathered
while sampling, differentiable through the cache (``tfqsr.layers.cache.slice_update``).
Everything else (``log_prob``, ``log_psi``, cached and uncached sampling, ``log_psi_connected``)
is derived here. A model knows nothing about Hamiltonians.
"""
import functools

import keras
import numpy as np
import tensorflow as tf

from tfqsr import hilbert


class AutoregressiveWavefunction(keras.Model):
    """Base class; see the module docstring. ``phase=True`` makes log psi complex."""

    # XLA for log_psi_connected, read at its first call: it fuses the patched transformers'
    # layer norms, GELUs and small attention products (local energies about 2.5x faster at
    # 8x8), but compiles each call signature (each set of recomputation starts) for seconds to
    # minutes, so it is for long runs (model_builder turns it on for the PTF and LPTF up to 16
    # tokens: vmc.lattice_config.XLA_CONNECTED_MAX_TOKENS). The
    # relative-position transformer (16 s against 6 s at N=100) and the RNN's variable-width
    # recurrence do not gain.
    connected_jit_compile = False

    def __init__(self, n_sites, dictionary_size=None, phase=False, layout=None, **kwargs):
        """``layout``: a ``hilbert.TokenLayout`` (or its config); without it, words of
        log2(``dictionary_size``) spins of a chain (default: one spin per token)."""
        super().__init__(**kwargs)
        self.layout = hilbert.resolve_layout(n_sites, dictionary_size, layout)
        self.n_sites = self.layout.n_sites
        self.n_tokens = self.layout.n_tokens
        self.dictionary_size = self.layout.dictionary_size
        self.phase = bool(phase)
        # XLA compiles the token loop into one program: about 2x faster sampling on CPU.
        self._sample_function = tf.function(functools.partial(self._sample_tokens, with_log_prob=False),
                                            reduce_retracing=True, jit_compile=True)
        self._sample_uncached_function = tf.function(self._sample_tokens_uncached, jit_compile=True)
        # Not XLA: the gradient of a loop needs its per-step values (TensorLists), which cannot
        # leave an XLA cluster.
        self._sample_differentiable_function = tf.function(
            functools.partial(self._sample_tokens, with_log_prob=True), reduce_retracing=True)
        self._log_psi_connected_function = None  # built at the first call (connected_jit_compile)
        self._reference_function = tf.function(self._reference, reduce_retracing=True)
        self._group_function = tf.function(self._group_log_psi, reduce_retracing=True)

    def get_config(self):
        config = super().get_config()
        config.update(n_sites=self.n_sites, dictionary_size=self.dictionary_size, phase=self.phase,
                      layout=self.layout.get_config())
        return config

    # --- to implement -----------------------------------------------------------------
    def conditionals(self, tokens):
        """(log p(. | t_<t) [B, T, d], phase table [B, T, d] or None) for int tokens [B, T]."""
        raise NotImplementedError

    def initial_decoder_state(self, batch_size):
        """The cache before the first token (any nest of tensors)."""
        raise NotImplementedError

    def decode_step(self, state, previous_token, position):
        """(log p(. | t_<position) [B, d], phase row [B, d] or None, new state).

        ``previous_token`` [B] is the token at ``position - 1`` (ignored at position 0).
        """
        raise NotImplementedError

    def decode_from(self, state, tokens, start):
        """(log p rows ``start..T-1`` [B, T - start, d], phase rows or None, state) for int tokens
        [B, T], given the ``state`` returned by ``decode_from`` on a sequence that agrees with
        ``tokens`` before ``start`` (any state for ``start = 0``). Optional: without it
        ``log_psi_connected`` evaluates full passes."""
        raise NotImplementedError

    # --- derived ------------------------------------------------------------------------
    def call(self, inputs):
        """Log-conditionals [B, T, d] of spin configurations ``inputs`` [B, N]."""
        return self.conditionals(self.layout.to_tokens(inputs))[0]

    def _log_prob_and_phase(self, x):
        tokens = self.layout.to_tokens(x)
        return _sum_over_tokens(*self.conditionals(tokens), tokens)

    def log_prob(self, x):
        """log p(x) = 2 Re log psi(x) for spins x [B, N]; float32 [B]."""
        return self._log_prob_and_phase(x)[0]

    def log_psi(self, x):
        """log psi(x) for spins x [B, N]: float32 [B], or complex64 [B] when ``phase``."""
        return self._combine(*self._log_prob_and_phase(x))

    def log_psi_connected(self, x_conn, changed_sites):
        """log psi of configurations ``x_conn`` [B, M, N] that share prefixes with column 0.

        Column m may differ from ``x_conn[:, 0]`` only on the sites ``changed_sites[m]`` (a
        static tuple of M site tuples, ``()`` when it never differs), as the connected
        configurations of an operator do (``Operator.changed_sites``; ``hilbert.site_sets``
        makes them from masks). The layout gives the first token t each column changes; rows
        of the conditionals up to t see only unchanged tokens and are taken from the pass over
        column 0, the others are recomputed from its cache (``decode_from``), with columns
        grouped by where their recomputation starts. Returns log psi [B, M], equal to
        ``log_psi`` of each configuration up to float rounding.
        """
        batch, n_columns = tf.shape(x_conn)[0], len(changed_sites)
        if type(self).decode_from is AutoregressiveWavefunction.decode_from:
            return tf.reshape(self.log_psi(tf.reshape(x_conn, [-1, self.n_sites])), [batch, n_columns])
        if self._log_psi_connected_function is None:
            # Each set of starts is traced once, the batch dimension relaxed.
            self._log_psi_connected_function = tf.function(
                self._log_psi_connected, jit_compile=bool(self.connected_jit_compile) or None)
        return self._log_psi_connected_function(tf.cast(x_conn, tf.int32), tuple(
            min(self.n_tokens, token + 1) for token in self.layout.first_changed_tokens(changed_sites)))

    def _log_psi_connected(self, x_conn, row_starts):
        """``log_psi_connected`` given, per column, the first conditional row that may change.

        Rows before a column's start are the reference's (column 0) conditionals read at the
        column's own tokens (one gather for all columns: the token just before the start may
        differ); rows from the start on come from ``recomputed_rows``."""
        tokens = self.layout.to_tokens(x_conn)  # [B, M, T]
        log_cond, phase, state = self._reference_function(tokens[:, 0])
        starts = self.recompute_starts(row_starts)
        kept = np.arange(self.n_tokens)[:, None] < np.asarray(starts)[None, :]  # [T, M]
        columns = tf.transpose(tokens, [0, 2, 1])  # [B, T, M]

        def read_kept(table):
            if table is None:
                return None
            rows = tf.gather(table, columns, batch_dims=2)  # [B, T, M]
            return tf.reduce_sum(tf.where(kept, rows, tf.zeros_like(rows)), axis=1)

        new_log_prob, new_phase = self.recomputed_rows(state, tokens, starts)
        log_prob = read_kept(log_cond) + new_log_prob
        return self._combine(log_prob, None if phase is None else read_kept(phase) + new_phase)

    def recompute_starts(self, row_starts):
        """The rows from which ``recomputed_rows`` recomputes each column (static ints, at most
        ``row_starts``, the first rows that may change). Here the starts are rounded down to a
        grid of at most 32 (``_grid_starts``) so that few groups are traced and called."""
        return _grid_starts(row_starts, self.n_tokens)

    def recomputed_rows(self, state, tokens, starts):
        """(sum over rows t >= starts[m] of log p(t_t | t_<t), the same sum of phases or None),
        each [B, M], for columns ``tokens`` [B, M, T] that agree with column 0 before row
        ``starts[m] - 1``; ``state`` is the cache of the full pass over column 0.

        Here columns sharing a start form a group of B |group| sequences that ``decode_from``
        recomputes from the repeated cache in one call; a model may override this with a
        cheaper schedule (``RNNWavefunction`` runs every column in one recurrence)."""
        batch = tf.shape(tokens)[0]
        groups = {}
        for column, start in enumerate(starts):
            groups.setdefault(start, []).append(column)
        columns, log_parts, phase_parts = [], [], []
        for start, group in sorted(groups.items()):
            columns.extend(group)
            if start >= self.n_tokens:  # nothing changes from the start on
                log_parts.append(tf.zeros([batch, len(group)]))
                phase_parts.append(log_parts[-1])
                continue
            group_tokens = tf.reshape(tf.gather(tokens, group, axis=1), [-1, self.n_tokens])
            group_state = tf.nest.map_structure(lambda t: tf.repeat(t, len(group), axis=0), state)
            log_prob, phase = self._group_function(group_state, group_tokens, start)
            log_parts.append(tf.reshape(log_prob, [-1, len(group)]))
            phase_parts.append(None if phase is None else tf.reshape(phase, [-1, len(group)]))
        order = sorted(range(len(columns)), key=columns.__getitem__)

        def assemble(parts):
            return tf.gather(tf.concat(parts, axis=1), order, axis=1)
        return assemble(log_parts), assemble(phase_parts) if self.phase else None

    def _reference(self, tokens):
        """Conditionals and the cache of a full pass over ``tokens`` [B, T]."""
        return self.decode_from(self.initial_decoder_state(tf.shape(tokens)[0]), tokens, 0)

    def _group_log_psi(self, state, tokens, start):
        """(log p, phase or None) [K] of rows >= ``start`` of ``tokens`` [K, T] that agree
        before row ``start - 1`` with the sequences of the reference ``state`` (repeated to K
        rows)."""
        log_cond, phase, _ = self.decode_from(state, tokens, start)
        return _sum_over_tokens(log_cond, phase, tokens[:, start:])

    def _combine(self, log_prob, phase):
        return 0.5 * log_prob if phase is None else tf.complex(0.5 * log_prob, phase)

    def sample(self, n, seed):
        """``n`` exact samples of |psi|^2 as spins int32 [n, N], decoded with the cache.

        ``seed`` is a stateless seed (int tensor of shape [2]); equal seeds give equal samples.
        """
        tokens, _ = self._sample_function(tf.cast(n, tf.int32), tf.cast(seed, tf.int32))
        return self.layout.to_spins(tokens)

    def sample_with_log_psi(self, n, seed):
        """(``n`` exact samples [n, N], their log psi [n]): log p gathered while decoding,
        differentiable with respect to the weights through the cache (the NN-QSR code's
        ``sgrad=True``: no second pass over the samples for the gradient), equal to
        ``log_psi`` of the samples up to float rounding. Decoded without XLA (a loop's
        gradient cannot leave an XLA cluster), so the random stream, and with it the samples
        of a seed, differ from ``sample``'s. Positive models only."""
        if self.phase:
            raise ValueError("sample_with_log_psi: only for positive wavefunctions (phase=False)")
        tokens, log_prob = self._sample_differentiable_function(tf.cast(n, tf.int32), tf.cast(seed, tf.int32))
        return self.layout.to_spins(tokens), self._combine(log_prob, None)

    def _draw(self, log_cond, seed, position):
        step_seed = tf.random.experimental.stateless_fold_in(seed, position)
        return tf.cast(tf.random.stateless_categorical(log_cond, 1, step_seed)[:, 0], tf.int32)

    def _sample_tokens(self, n, seed, *, with_log_prob):
        """(tokens int32 [n, T], log p [n] or zeros when not ``with_log_prob``) of n exact samples."""
        def body(position, previous, state, tokens, log_prob):
            log_cond, _, state = self.decode_step(state, previous, position)
            token = self._draw(tf.stop_gradient(log_cond), seed, position)
            if with_log_prob:
                log_prob += tf.gather(log_cond, token, batch_dims=1)
            return position + 1, token, state, tokens.write(position, token), log_prob

        # maximum_iterations: XLA differentiates the loop only with a fixed trip count.
        _, _, _, tokens, log_prob = tf.while_loop(
            lambda position, *_: position < self.n_tokens, body,
            (tf.constant(0), tf.zeros([n], tf.int32), self.initial_decoder_state(n),
             tf.TensorArray(tf.int32, size=self.n_tokens), tf.zeros([n], self.compute_dtype)),
            maximum_iterations=self.n_tokens)
        return tf.transpose(tokens.stack()), log_prob

    def sample_uncached(self, n, seed):
        """Reference sampler that reruns the full model for every token (testing only).

        Compiled with XLA like ``sample``, so that equal seeds draw equal random numbers.
        """
        return self.layout.to_spins(
            self._sample_uncached_function(tf.cast(n, tf.int32), tf.cast(seed, tf.int32)))

    def _sample_tokens_uncached(self, n, seed):
        tokens = tf.zeros([n, self.n_tokens], tf.int32)
        for position in range(self.n_tokens):
            token = self._draw(self.conditionals(tokens)[0][:, position], seed, position)
            tokens = tf.where(tf.range(self.n_tokens) == position, token[:, None], tokens)
        return tokens


def _sum_over_tokens(log_cond, phase_table, tokens):
    """(log p, phase or None) [B]: the tables [B, T, d] read at ``tokens`` [B, T] and summed."""
    def read(table):
        return None if table is None else tf.reduce_sum(tf.gather(table, tokens, batch_dims=2), axis=-1)
    return read(log_cond), read(phase_table)


def _grid_starts(row_starts, n_tokens, max_groups=32):
    """Each column's first changing row rounded down to a grid of at most ``max_groups`` starts
    (multiples of ceil(T / max_groups)); a column with nothing to recompute keeps T.

    A column recomputes fewer than ceil(T / max_groups) rows more than it must (T = 100: at
    most 3 more than its own ~50 on average), and every caller sees the same few starts, so
    each group of columns sharing one is traced once.
    """
    step = -(-n_tokens // max_groups)
    return tuple(n_tokens if start >= n_tokens else start // step * step for start in row_starts)
