"""Patched transformer wavefunction (PTF of NN-QSR: Sprague & Czischek, "Variational Monte
Carlo with large patched transformers", 2024).

A configuration is read as T patch tokens t_0..t_{T-1} of k spins (a token layout: 2D
patches, or words of a chain). Row t of the decoder sees the previous patch's spins as
u_t = 2 x - 1 in {-1, +1}^k (u_0 = 0, the start) and the position (a_t, b_t) of patch t in
the grid of patches:

    e_t = tanh(W_e u_t + b_e) + PE(a_t, b_t)                  width Nh (PE: sinusoidal, 2D)
    h   = LN(Block_L(... Block_1(e)))                          causal: row t sees rows <= t
    p(t_t | t_<t) = softmax(W_2 relu(W_1 h_t + b_1) + b_2)     over the d = 2^k patches

Blocks are pre-norm, absolute-position causal attention with ``nhead`` heads and a GELU
feed-forward of width 4 Nh (``tfqsr.layers.CausalTransformerBlock``). p(x) = prod_t p(t_t|t_<t)
is normalized exactly; log psi = 1/2 log p (positive wavefunction). Sampling and
``decode_from`` use the attention key/value caches, so the connected configurations of a local
operator recompute only from the first changed patch on.

``PatchTransformerCore`` is the decoder as a layer; ``LargePatchedTransformer`` uses it twice
(over large patches, and as its transformer subsampler).
"""
import keras
from keras import ops
import numpy as np
import tensorflow as tf

from tfqsr import validation
from tfqsr.layers.causal_block import CausalTransformerBlock
from tfqsr.layers.positional_encoding import sinusoidal_2d
from tfqsr.wavefunctions.base import AutoregressiveWavefunction


def token_grid_positions(layout):
    """int [T, 2]: the (row, column) of each token of ``layout`` in its grid of tokens (for a
    chain, the grid of one row); the tokens must tile the lattice as equal rectangles."""
    lattice = getattr(layout, "lattice", (1, layout.n_sites))
    rows, columns = np.divmod(layout.token_sites, lattice[1])
    height = rows[0].max() - rows[0].min() + 1
    width = columns[0].max() - columns[0].min() + 1
    return np.stack([rows.min(axis=1) // height, columns.min(axis=1) // width], axis=1)


def token_bits(tokens, token_size):
    """The spins of int tokens [...] as floats u = 2 x - 1 in {-1, +1}, [..., token_size], the
    most significant bit first (the bit order of ``hilbert.TokenLayout``)."""
    shifts = tf.range(token_size - 1, -1, -1, dtype=tf.int32)
    bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(tf.cast(tokens, tf.int32)[..., None], shifts), 1)
    return 2.0 * tf.cast(bits, tf.float32) - 1.0


def previous_token_bits(tokens, token_size):
    """Decoder inputs [B, L, k] of a sequence of tokens [B, L]: (0, u(t_0), ..., u(t_{L-2}))."""
    bits = token_bits(tokens, token_size)
    return ops.concatenate([ops.zeros_like(bits[:, :1]), bits[:, :-1]], axis=1)


def transformer_arguments(Nh, num_layers, nhead, nheads, dropout, prefix=""):
    """Validated (Nh, num_layers, nhead, dropout) of a patched transformer; ``nheads`` is the
    original's alias of ``nhead`` (default 8). ``prefix`` names the arguments of a
    subsampler ("sub_")."""
    if nhead is not None and nheads is not None:
        validation.check(nhead == nheads, f"{prefix}nheads",
                         f"equal to {prefix}nhead={nhead} when both are given", nheads)
    heads = validation.integer(f"{prefix}nhead", 8 if nhead is None and nheads is None else
                               (nhead if nhead is not None else nheads), minimum=1)
    Nh = validation.integer(f"{prefix}Nh", Nh, minimum=4)
    validation.check(Nh % 4 == 0, f"{prefix}Nh", "a multiple of 4 (the 2D positional encoding)", Nh)
    validation.check(Nh % heads == 0, f"{prefix}nhead", f"a divisor of {prefix}Nh={Nh}", heads)
    num_layers = validation.integer(f"{prefix}num_layers", num_layers, minimum=1)
    dropout = validation.real(f"{prefix}dropout", dropout)
    validation.check(0.0 <= dropout < 1.0, f"{prefix}dropout", "in [0, 1)", dropout)
    return Nh, num_layers, heads, dropout


@keras.saving.register_keras_serializable(package="tfqsr")
class PatchTransformerCore(keras.layers.Layer):
    """The patched transformer's decoder (see the module docstring) as a layer.

    Args:
      token_size: k spins per token (the input u has k entries).
      positions: [T, 2] grid positions of the T rows (``token_grid_positions``).
      Nh, num_layers, nhead, dropout: width, blocks, heads, dropout.
      dictionary_size: d, the size of the softmax head; None for no head (the outputs are
        the hidden states h [B, T, Nh], as the large-patch transformer of the LPTF uses them).

    ``call(tokens [B, T])`` runs a sequence from the start; ``embed``, ``decode`` (with a
    key/value cache) and ``head`` are the pieces.
    """

    def __init__(self, token_size, positions, Nh=128, num_layers=2, nhead=8, dropout=0.0,
                 dictionary_size=None, **kwargs):
        super().__init__(**kwargs)
        self.token_size = token_size
        self.positions = [[int(a), int(b)] for a, b in np.asarray(positions).reshape(-1, 2)]
        self.Nh, self.num_layers, self.nhead, self.dropout = transformer_arguments(
            Nh, num_layers, nhead, None, dropout)
        self.dictionary_size = dictionary_size
        self.encoding = sinusoidal_2d(self.positions, self.Nh)
        self.token_dense = keras.layers.Dense(self.Nh, activation="tanh", name="token_dense")
        self.blocks = [CausalTransformerBlock(self.nhead, self.Nh, 4 * self.Nh, self.dropout,
                                              name=f"block_{i}") for i in range(self.num_layers)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        if dictionary_size is not None:
            self.hidden_dense = keras.layers.Dense(self.Nh, activation="relu", name="hidden_dense")
            self.logits_dense = keras.layers.Dense(dictionary_size, name="logits_dense")

    def build(self, input_shape=None):
        hidden = (None, len(self.positions), self.Nh)
        self.token_dense.build((None, self.token_size))
        for block in self.blocks:
            block.build(hidden)
        self.final_norm.build(hidden)
        if self.dictionary_size is not None:
            self.hidden_dense.build(hidden)
            self.logits_dense.build(hidden)
        super().build(input_shape)

    def embed(self, previous_bits, start):
        """Decoder inputs e [B, L, Nh] of rows start..start+L-1 from the previous tokens' spins
        ``previous_bits`` [B, L, k] (zeros for the start)."""
        rows = start + tf.range(tf.shape(previous_bits)[1])
        return self.token_dense(previous_bits) + tf.gather(self.encoding, rows)[None]

    def empty_cache(self, batch_size):
        return tuple(block.attention.empty_cache(batch_size, len(self.positions), self.compute_dtype)
                     for block in self.blocks)

    def decode(self, h, cache, start):
        """(normalized outputs [B, L, Nh] of decoder inputs ``h`` at rows start.., the cache)."""
        new_cache = []
        for block, block_cache in zip(self.blocks, cache):
            h, block_cache = block.decode_step(h, block_cache, start)
            new_cache.append(block_cache)
        return self.final_norm(h), tuple(new_cache)

    def head(self, h):
        """log p(. | earlier tokens) [..., d] of outputs h [..., Nh]."""
        return ops.log_softmax(self.logits_dense(self.hidden_dense(h)), axis=-1)

    def call(self, tokens, conditioning=None, training=None):
        """log-conditionals [B, T, d] (or outputs [B, T, Nh] without a head) of int tokens
        [B, T]; ``conditioning`` [B, Nh] is added to every decoder input."""
        h = self.embed(previous_token_bits(tokens, self.token_size), 0)
        if conditioning is not None:
            h = h + conditioning[:, None]
        h = self.transform(h, training=training)
        return h if self.dictionary_size is None else self.head(h)

    def transform(self, h, training=None):
        """Normalized outputs [B, T, Nh] of a whole sequence of decoder inputs ``h``, without a
        cache (dropout when ``training``)."""
        for block in self.blocks:
            h = block(h, training=training)
        return self.final_norm(h)

    def get_config(self):
        config = super().get_config()
        config.update(token_size=self.token_size, positions=self.positions, Nh=self.Nh,
                      num_layers=self.num_layers, nhead=self.nhead, dropout=self.dropout,
                      dictionary_size=self.dictionary_size)
        return config


@keras.saving.register_keras_serializable(package="tfqsr")
class PatchedTransformer(AutoregressiveWavefunction):
    """Patched transformer wavefunction (see the module docstring).

    ``PatchedTransformer(n_sites, *, layout=None, dictionary_size=None, Nh=128, num_layers=2,
    nhead=8, dropout=0.0)`` (``nheads=`` accepted for ``nhead``, as the original's flag)

    Args:
      n_sites: number of spins N.
      layout: a ``hilbert.TokenLayout`` (``PatchLayout((Lx, Ly), (px, py))`` for 2D patches,
        ``WordLayout``) or its config; default words of log2(``dictionary_size``) spins.
      dictionary_size: d = 2^k token values when no layout is given (default 2).
      Nh: transformer width, a multiple of 4 and of ``nhead`` (default 128).
      num_layers: causal blocks (default 2); nhead: attention heads (default 8).
      dropout: residual dropout in [0, 1) (default 0), active only in Keras's training mode
        (``model(x, training=True)``); log_prob, sampling and local energies are inference.

    log psi = 1/2 log p (real; ``phase`` is always False).
    """

    def __init__(self, n_sites, *, layout=None, dictionary_size=None, Nh=128, num_layers=2, nhead=None,
                 dropout=0.0, nheads=None, **kwargs):
        super().__init__(n_sites, dictionary_size, False, layout, **kwargs)
        self.Nh, self.num_layers, self.nhead, self.dropout = transformer_arguments(
            Nh, num_layers, nhead, nheads, dropout)
        self.core = PatchTransformerCore(
            self.layout.token_size, token_grid_positions(self.layout), self.Nh, self.num_layers,
            self.nhead, self.dropout, self.dictionary_size, name="core")
        self.build((None, self.n_sites))

    def build(self, input_shape):
        self.core.build()
        self.built = True

    def call(self, inputs, training=None):
        """Log-conditionals [B, T, d] of spins [B, N] (dropout when ``training``)."""
        return self.core(self.layout.to_tokens(inputs), training=training)

    def conditionals(self, tokens):
        return self.core(tokens), None

    def initial_decoder_state(self, batch_size):
        return self.core.empty_cache(batch_size)

    def decode_step(self, state, previous_token, position):
        bits = token_bits(previous_token, self.layout.token_size) * tf.cast(position > 0, tf.float32)
        h, state = self.core.decode(self.core.embed(bits[:, None], position), state, position)
        return self.core.head(h[:, 0]), None, state

    def decode_from(self, state, tokens, start):
        bits = previous_token_bits(tokens, self.layout.token_size)[:, start:]
        h, state = self.core.decode(self.core.embed(bits, start), state, start)
        return self.core.head(h), None, state

    def get_config(self):
        config = super().get_config()
        del config["phase"]  # always False
        config.update(Nh=self.Nh, num_layers=self.num_layers, nhead=self.nhead, dropout=self.dropout)
        return config
