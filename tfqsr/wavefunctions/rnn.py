"""Recurrent wavefunction over patch tokens (the RNN of NN-QSR; Hibat-Allah et al. 2020).

A configuration is read as T tokens t_0..t_{T-1} of k spins in the order of a token layout
(words of a chain, 2D patches; d = 2^k values per token). A recurrent cell carries a hidden
state h_t of width Nh:

    h_t = cell(h_{t-1}, onehot(t_{t-1}))      h_{-1} = h_init (zeros), t_{-1} = start (index d)
    p(t_t | t_<t) = softmax(W_2 relu(W_1 h_t + b_1) + b_2)          over the d tokens

so p(x) = prod_t p(t_t | t_<t) is normalized exactly and log psi(x) = 1/2 log p(x) (a positive
wavefunction: stoquastic Hamiltonians such as the Rydberg array). The cell is a GRU (Keras's
``GRUCell``, reset gate after the recurrent matmul as in cuDNN/PyTorch) or an Elman cell
(``SimpleRNNCell``, h_t = tanh(W x + U h_{t-1} + b)); the input is the one-hot vector of the
previous token over d + 1 entries (the start token last).

The decoder state is the history of hidden states h_0..h_{T-1} ([B, T, Nh]): sampling writes
one row per token, and ``decode_from(state, tokens, start)`` restarts the recurrence from
h_{start-1}, so the connected configurations of a local operator recompute only from the
first changed token on.
"""
import keras
from keras import ops
import numpy as np
import tensorflow as tf

from tfqsr import validation
from tfqsr.layers.cache import slice_update
from tfqsr.wavefunctions.base import AutoregressiveWavefunction

RNN_TYPES = ("GRU", "ELMAN")


def rnn_type(rnntype):
    """The canonical name ("GRU" or "ELMAN") of ``rnntype`` (case-insensitive); ConfigError
    naming ``rnntype`` otherwise."""
    name = rnntype.upper() if isinstance(rnntype, str) else rnntype
    validation.check(name in RNN_TYPES, "rnntype", f"one of {', '.join(RNN_TYPES)} (any case)", rnntype)
    return name


@keras.saving.register_keras_serializable(package="tfqsr")
class TokenRNN(keras.layers.Layer):
    """The recurrent core shared by ``RNNWavefunction`` and the RNN subsampler of
    ``LargePatchedTransformer``: a cell over one-hot previous tokens and a two-layer softmax
    head (see the module docstring).

    Args:
      dictionary_size: d, the number of token values (the one-hot input has d + 1 entries,
        index d being the start token).
      Nh: the hidden width.
      rnntype: "GRU" or "ELMAN" (any case).

    ``call(tokens [B, L])`` gives the log-conditionals [B, L, d] of a whole sequence from a zero
    hidden state; ``run`` and ``step`` are the recurrence from a given hidden state, ``head``
    the output layer.
    """

    def __init__(self, dictionary_size, Nh, rnntype="GRU", **kwargs):
        super().__init__(**kwargs)
        self.dictionary_size = validation.integer("dictionary_size", dictionary_size, minimum=2)
        self.Nh = validation.integer("Nh", Nh, minimum=1)
        self.rnntype = rnn_type(rnntype)
        self.start_token = self.dictionary_size

    def build(self, input_shape=None):
        if self.rnntype == "GRU":
            self.cell = keras.layers.GRUCell(self.Nh, name="cell")
        else:
            self.cell = keras.layers.SimpleRNNCell(self.Nh, name="cell")
        self.hidden_dense = keras.layers.Dense(self.Nh, activation="relu", name="hidden_dense")
        self.logits_dense = keras.layers.Dense(self.dictionary_size, name="logits_dense")
        self.cell.build((None, self.dictionary_size + 1))
        self.hidden_dense.build((None, self.Nh))
        self.logits_dense.build((None, self.Nh))
        super().build(input_shape)

    def step(self, hidden, previous_token):
        """h_t [B, Nh] from h_{t-1} [B, Nh] and the previous token ids [B] (d = start)."""
        inputs = ops.one_hot(previous_token, self.dictionary_size + 1, dtype=hidden.dtype)
        return self.cell(inputs, hidden)[0]

    def run(self, hidden, previous_tokens):
        """Hidden states [B, L, Nh] after each of the previous-token ids [B, L] (d = start),
        starting from ``hidden`` [B, Nh].

        Unrolled over L, which is static here (a model's number of tokens, or a slice of it), as
        Keras's ``RNN(unroll=True)`` (the sequences are at most a few hundred tokens): per-sample
        gradients (``vectorized_map`` in the natural gradient) cannot differentiate a while
        loop, and XLA fuses across the unrolled steps."""
        states = []
        for t in range(previous_tokens.shape[1]):
            hidden = self.step(hidden, previous_tokens[:, t])
            states.append(hidden)
        return tf.stack(states, axis=1) if states else hidden[:, None][:, :0]  # [B, 0, Nh]

    def head(self, hidden):
        """log p(. | history) [..., d] of hidden states [..., Nh]."""
        return ops.log_softmax(self.logits_dense(self.hidden_dense(hidden)), axis=-1)

    def previous_tokens(self, tokens):
        """The inputs of a sequence that starts afresh: (start, t_0, ..., t_{L-2}) for [B, L]."""
        return ops.concatenate([ops.full_like(tokens[:, :1], self.start_token), tokens[:, :-1]], axis=1)

    def call(self, tokens):
        tokens = ops.cast(tokens, "int32")
        hidden = ops.zeros((ops.shape(tokens)[0], self.Nh), self.compute_dtype)
        return self.head(self.run(hidden, self.previous_tokens(tokens)))

    def get_config(self):
        config = super().get_config()
        config.update(dictionary_size=self.dictionary_size, Nh=self.Nh, rnntype=self.rnntype)
        return config


@keras.saving.register_keras_serializable(package="tfqsr")
class RNNWavefunction(AutoregressiveWavefunction):
    """Recurrent wavefunction over the tokens of a layout (see the module docstring).

    ``RNNWavefunction(n_sites, *, layout=None, dictionary_size=None, rnntype="GRU", Nh=256)``

    Args:
      n_sites: number of spins N.
      layout: a ``hilbert.TokenLayout`` (``WordLayout``, ``PatchLayout``, ``NestedPatchLayout``)
        or its config; default words of log2(``dictionary_size``) spins of a chain.
      dictionary_size: d = 2^k token values when no layout is given (default 2).
      rnntype: "GRU" or "ELMAN", any case; anything else is a ConfigError naming ``rnntype``.
      Nh: hidden width (default 256, the original's).

    log psi = 1/2 log p (real, ``phase`` is always False). The hidden-state history makes
    sampling O(T) cell steps and ``log_psi_connected`` recompute only from the first changed
    token on.
    """

    def __init__(self, n_sites, *, layout=None, dictionary_size=None, rnntype="GRU", Nh=256, **kwargs):
        super().__init__(n_sites, dictionary_size, False, layout, **kwargs)
        self.rnntype = rnn_type(rnntype)
        self.Nh = validation.integer("Nh", Nh, minimum=1)
        self.rnn = TokenRNN(self.dictionary_size, self.Nh, self.rnntype, name="rnn")
        self.build((None, self.n_sites))

    def build(self, input_shape):
        self.rnn.build()
        self.built = True

    def conditionals(self, tokens):
        return self.rnn(tokens), None

    def initial_decoder_state(self, batch_size):
        return ops.zeros((batch_size, self.n_tokens, self.Nh), self.compute_dtype)

    def decode_step(self, state, previous_token, position):
        first = position == 0
        token = tf.where(first, self.rnn.start_token, previous_token)
        previous = tf.gather(state, tf.maximum(position - 1, 0), axis=1)
        hidden = self.rnn.step(tf.where(first, tf.zeros_like(previous), previous), token)
        state = slice_update(state, (0, position, 0), hidden[:, None])
        return self.rnn.head(hidden), None, state

    def decode_from(self, state, tokens, start):
        if start == 0:
            hidden = tf.zeros_like(state[:, 0])
        else:
            hidden = state[:, start - 1]
        inputs = self.rnn.previous_tokens(tokens)[:, start:]
        history = self.rnn.run(hidden, inputs)
        return self.rnn.head(history), None, ops.concatenate([state[:, :start], history], axis=1)

    def recompute_starts(self, row_starts):
        return tuple(row_starts)  # one recurrence for every column: no rounding needed

    def recomputed_rows(self, state, tokens, starts):
        """All columns in one recurrence over the rows, each joining at its own start.

        Columns are sorted by start and laid out column-major (row c B + b), so at row t the
        columns with start <= t are the first n_t B rows: the recurrence steps only those, a
        column joining at t starting from the reference's h_{t-1} (``state`` [B, T, Nh]). The
        work is exactly the recomputed rows (about half of full passes for single flips), in
        at most T batched cell steps instead of one recurrence per start."""
        batch, n_columns = tf.shape(tokens)[0], len(starts)
        order = np.argsort(starts, kind="stable")
        joined = np.searchsorted(np.asarray(starts)[order], np.arange(self.n_tokens), side="right")
        first = int(min(starts))
        if first >= self.n_tokens:
            return tf.zeros([batch, n_columns]), None
        rows = tf.reshape(tf.transpose(tf.gather(tokens, order, axis=1), [1, 0, 2]), [-1, self.n_tokens])
        previous = self.rnn.previous_tokens(rows)
        n_active = tf.constant(joined, tf.int32)  # n_t: columns with start <= t
        n_before = tf.constant(np.concatenate([[0], joined[:-1]]), tf.int32)

        def body(t, hidden, log_prob):
            reference = tf.gather(state, tf.maximum(t - 1, 0), axis=1) * tf.cast(t > 0, state.dtype)
            hidden = tf.concat([hidden, tf.tile(reference, [n_active[t] - n_before[t], 1])], axis=0)
            n_rows = n_active[t] * batch
            hidden = self.rnn.step(hidden, previous[:n_rows, t])
            read = tf.gather(self.rnn.head(hidden), rows[:n_rows, t], batch_dims=1)
            return t + 1, hidden, log_prob + tf.pad(read, [[0, n_columns * batch - n_rows]])

        _, _, log_prob = tf.while_loop(
            lambda t, *_: t < self.n_tokens, body,
            (tf.constant(first), tf.zeros([0, self.Nh], state.dtype), tf.zeros([n_columns * batch], state.dtype)),
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, self.Nh]), tf.TensorShape([None])))
        log_prob = tf.transpose(tf.reshape(log_prob, [n_columns, batch]))
        return tf.gather(log_prob, np.argsort(order), axis=1), None

    def get_config(self):
        config = super().get_config()
        del config["phase"]  # always False
        config.update(rnntype=self.rnntype, Nh=self.Nh)
        return config
