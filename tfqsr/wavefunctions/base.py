"""Autoregressive wavefunctions: the base every model in the package builds on.

A configuration x of N spins is read as T = N / w tokens t_1..t_T of w spins each
(``tfqsr.hilbert`` owns the packing). The model gives normalized conditionals, so

    p(x)       = prod_t p(t_t | t_<t),            sum_x p(x) = 1 exactly,
    log psi(x) = 1/2 log p(x) + i phi(x),         phi(x) = sum_t phi_t(t_t | t_<t),

and exact samples are drawn token by token (no Markov chain, no autocorrelation).

Subclasses implement three methods:
  * ``conditionals(tokens)``: log p(. | t_<t) for every position at once, [B, T, d], and the
    per-token phase table [B, T, d] (or None for a positive wavefunction);
  * ``initial_decoder_state(batch_size)`` and ``decode_step(state, previous_token, position)``:
    the incremental form with a cache (key/value cache, hidden state) used by ``sample``.
Everything else (``log_prob``, ``log_psi``, cached and uncached sampling) is derived here.
A model knows nothing about Hamiltonians.
"""
import keras
import tensorflow as tf

from tfqsr import hilbert


class AutoregressiveWavefunction(keras.Model):
    """Base class; see the module docstring. ``phase=True`` makes log psi complex."""

    def __init__(self, n_sites, dictionary_size=2, phase=False, **kwargs):
        super().__init__(**kwargs)
        self.n_sites = int(n_sites)
        self.dictionary_size = int(dictionary_size)
        self.word_size = hilbert.word_size(self.dictionary_size)
        hilbert.check_n_sites(self.n_sites, self.word_size)
        self.n_tokens = self.n_sites // self.word_size
        self.phase = bool(phase)
        # XLA compiles the token loop into one program: about 2x faster sampling on CPU.
        self._sample_function = tf.function(self._sample_tokens, reduce_retracing=True, jit_compile=True)
        self._sample_uncached_function = tf.function(self._sample_tokens_uncached, jit_compile=True)

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

    # --- derived ------------------------------------------------------------------------
    def call(self, inputs):
        """Log-conditionals [B, T, d] of spin configurations ``inputs`` [B, N]."""
        return self.conditionals(hilbert.spins_to_tokens(inputs, self.word_size))[0]

    def _log_prob_and_phase(self, x):
        tokens = hilbert.spins_to_tokens(tf.cast(x, tf.int32), self.word_size)
        log_cond, phase_table = self.conditionals(tokens)
        log_prob = tf.reduce_sum(tf.gather(log_cond, tokens, batch_dims=2), axis=-1)
        if phase_table is None:
            return log_prob, None
        return log_prob, tf.reduce_sum(tf.gather(phase_table, tokens, batch_dims=2), axis=-1)

    def log_prob(self, x):
        """log p(x) = 2 Re log psi(x) for spins x [B, N]; float32 [B]."""
        return self._log_prob_and_phase(x)[0]

    def log_psi(self, x):
        """log psi(x) for spins x [B, N]: float32 [B], or complex64 [B] when ``phase``."""
        log_prob, phase = self._log_prob_and_phase(x)
        if phase is None:
            return 0.5 * log_prob
        return tf.complex(0.5 * log_prob, phase)

    def sample(self, n, seed):
        """``n`` exact samples of |psi|^2 as spins int32 [n, N], decoded with the cache.

        ``seed`` is a stateless seed (int tensor of shape [2]); equal seeds give equal samples.
        """
        tokens = self._sample_function(tf.cast(n, tf.int32), tf.cast(seed, tf.int32))
        return hilbert.tokens_to_spins(tokens, self.word_size)

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
        return hilbert.tokens_to_spins(
            self._sample_uncached_function(tf.cast(n, tf.int32), tf.cast(seed, tf.int32)), self.word_size)

    def _sample_tokens_uncached(self, n, seed):
        tokens = tf.zeros([n, self.n_tokens], tf.int32)
        for position in range(self.n_tokens):
            token = self._draw(self.conditionals(tokens)[0][:, position], seed, position)
            tokens = tf.where(tf.range(self.n_tokens) == position, token[:, None], tokens)
        return tokens
