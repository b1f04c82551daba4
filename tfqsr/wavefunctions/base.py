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
Everything else (``log_prob``, ``log_psi``, cached and uncached sampling, ``log_psi_connected``)
is derived here. A model knows nothing about Hamiltonians.
"""
import keras
import tensorflow as tf

from tfqsr import hilbert


class AutoregressiveWavefunction(keras.Model):
    """Base class; see the module docstring. ``phase=True`` makes log psi complex."""

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
        self._sample_function = tf.function(self._sample_tokens, reduce_retracing=True, jit_compile=True)
        self._sample_uncached_function = tf.function(self._sample_tokens_uncached, jit_compile=True)
        # Not XLA: with up to 32 groups of different shapes XLA compiles for long (16 s against
        # 6 s at N=100) and runs no faster on CPU. Each group start is traced once (the batch
        # dimension relaxed), shared by every caller: estimators, local energies, training.
        self._log_psi_connected_function = tf.function(self._log_psi_connected)
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
        return self._log_psi_connected_function(tf.cast(x_conn, tf.int32), tuple(
            min(self.n_tokens, token + 1) for token in self.layout.first_changed_tokens(changed_sites)))

    def _log_psi_connected(self, x_conn, row_starts):
        """``log_psi_connected`` given, per column, the first conditional row that may change."""
        tokens = self.layout.to_tokens(x_conn)  # [B, M, T]
        log_cond, phase, state = self._reference_function(tokens[:, 0])
        columns, parts = [], []
        for start, group in _column_groups(row_starts, self.n_tokens):
            group_tokens = tf.reshape(tf.gather(tokens, group, axis=1), [-1, self.n_tokens])
            repeat = lambda t: None if t is None else tf.repeat(t, len(group), axis=0)  # noqa: E731
            group_state = tf.nest.map_structure(repeat, state) if start < self.n_tokens else None
            log_psi = self._group_function(group_state, repeat(log_cond), repeat(phase),
                                           group_tokens, start)
            parts.append(tf.reshape(log_psi, [-1, len(group)]))
            columns.extend(group)
        order = sorted(range(len(columns)), key=columns.__getitem__)
        return tf.gather(tf.concat(parts, axis=1), order, axis=1)

    def _reference(self, tokens):
        """Conditionals and the cache of a full pass over ``tokens`` [B, T]."""
        return self.decode_from(self.initial_decoder_state(tf.shape(tokens)[0]), tokens, 0)

    def _group_log_psi(self, state, log_cond, phase, tokens, start):
        """log psi [K] of ``tokens`` [K, T] that agree before row ``start`` with the sequences of
        the reference ``state`` and tables (repeated to K rows): rows >= start recomputed
        (none, and no state needed, when ``start`` = T)."""
        if start < self.n_tokens:
            new_cond, new_phase, _ = self.decode_from(state, tokens, start)
            log_cond = tf.concat([log_cond[:, :start], new_cond], axis=1)
            phase = None if phase is None else tf.concat([phase[:, :start], new_phase], axis=1)
        return self._combine(*_sum_over_tokens(log_cond, phase, tokens))

    def _combine(self, log_prob, phase):
        return 0.5 * log_prob if phase is None else tf.complex(0.5 * log_prob, phase)

    def sample(self, n, seed):
        """``n`` exact samples of |psi|^2 as spins int32 [n, N], decoded with the cache.

        ``seed`` is a stateless seed (int tensor of shape [2]); equal seeds give equal samples.
        """
        tokens = self._sample_function(tf.cast(n, tf.int32), tf.cast(seed, tf.int32))
        return self.layout.to_spins(tokens)

    def _draw(self, log_cond, seed, position):
        step_seed = tf.random.experimental.stateless_fold_in(seed, position)
        return tf.cast(tf.random.stateless_categorical(log_cond, 1, step_seed)[:, 0], tf.int32)

    def _sample_tokens(self, n, seed):
        def body(position, previous, state, tokens):
            log_cond, _, state = self.decode_step(state, previous, position)
            token = self._draw(log_cond, seed, position)
            return position + 1, token, state, tokens.write(position, token)

        _, _, _, tokens = tf.while_loop(
            lambda position, *_: position < self.n_tokens, body,
            (tf.constant(0), tf.zeros([n], tf.int32), self.initial_decoder_state(n),
             tf.TensorArray(tf.int32, size=self.n_tokens)))
        return tf.transpose(tokens.stack())

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


def _column_groups(row_starts, n_tokens, max_groups=32):
    """Group columns by their first changing row, rounded down to a grid of at most
    ``max_groups`` starts (multiples of ceil(T / max_groups)); each group is recomputed from its
    grid start.

    Returns [(start, [column, ...]), ...] in increasing start; columns with nothing to recompute
    (start = T) form their own group. A column recomputes fewer than ceil(T / max_groups) rows
    more than it must (T = 100: at most 3 more than its own ~50 on average), and every caller
    sees the same few starts, so each is traced once.
    """
    step = -(-n_tokens // max_groups)
    groups = {}
    for column, start in enumerate(row_starts):
        groups.setdefault(n_tokens if start >= n_tokens else start // step * step, []).append(column)
    return sorted(groups.items())
