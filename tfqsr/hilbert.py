"""Spin configurations, basis indices and tokens: the one place that fixes the bit order.

Conventions used by every other module:

* A configuration of ``N`` spins-1/2 is an integer vector ``x`` with ``x_i`` in {0, 1};
  batches are ``[batch, N]``. ``x_i = 0`` is spin up (Pauli ``Z_i = +1``) and ``x_i = 1`` is
  spin down (``Z_i = -1``), i.e. ``Z_i = 1 - 2 x_i``.
* Basis index: site 0 is the most significant bit,

      index(x) = sum_i x_i 2**(N - 1 - i),

  which is the ordering of ``numpy.kron(A_0, A_1, ..., A_{N-1})`` with site 0 leftmost. A state
  vector ``psi`` of length ``2**N`` therefore reshapes to a tensor with one axis per site,
  axis ``i`` indexed by ``x_i`` (:func:`site_tensor`).
* Tokens: a ``w``-bit word packs ``w`` consecutive spins into one integer in ``[0, 2**w)``
  (dictionary size ``d = 2**w``); the first spin of a word is its most significant bit. Token
  ``t`` of a configuration covers sites ``t*w, ..., t*w + w - 1``. With ``w = N`` the single
  token is the basis index.

    >>> spins_to_tokens([[0, 1, 1, 0]], 2).numpy()   # words (0,1) and (1,0)
    array([[1, 2]], dtype=int32)
"""
import numpy as np
import tensorflow as tf

from tfqsr import validation

# Tokens are int32, so a word holds at most 31 bits.
MAX_WORD_SIZE = 31


def configurations_to_indices(x):
    """Basis indices ``sum_i x_i 2**(N-1-i)`` (site 0 most significant) of configurations.

    Args:
      x: integer array ``[..., N]`` with values 0/1 (numpy or anything ``np.asarray`` takes).

    Returns:
      int64 numpy array ``[...]``.
    """
    x = np.asarray(x)
    n_sites = x.shape[-1]
    if n_sites > 63:
        raise ValueError(f"n_sites must be <= 63 for int64 basis indices, got {n_sites}")
    weights = np.left_shift(np.int64(1), np.arange(n_sites - 1, -1, -1, dtype=np.int64))
    return x.astype(np.int64) @ weights


def indices_to_configurations(indices, n_sites):
    """Inverse of :func:`configurations_to_indices`: int32 ``[..., N]`` configurations."""
    n_sites = validation.integer("n_sites", n_sites, minimum=1)
    indices = np.asarray(indices, dtype=np.int64)
    shifts = np.arange(n_sites - 1, -1, -1, dtype=np.int64)
    return ((indices[..., None] >> shifts) & 1).astype(np.int32)


def all_configurations(n_sites):
    """All ``2**N`` configurations as int32 ``[2**N, N]``; row ``r`` has basis index ``r``."""
    n_sites = validation.integer("n_sites", n_sites, minimum=1)
    return indices_to_configurations(np.arange(2**n_sites, dtype=np.int64), n_sites)


def sector_indices(n_sites, n_down):
    """Sorted basis indices (int64) of the configurations with exactly ``n_down`` spins down."""
    n_sites = validation.integer("n_sites", n_sites, minimum=1)
    if not validation.is_integer(n_down) or not 0 <= n_down <= n_sites:
        raise ValueError(f"n_down must be an integer in [0, n_sites={n_sites}], got {n_down!r}")
    indices = np.arange(2**n_sites, dtype=np.int64)
    return indices[np.bitwise_count(indices) == n_down]


def sector_configurations(n_sites, n_down):
    """Configurations with exactly ``n_down`` ones (spins down), int32 ``[C(N, n_down), N]``,
    sorted by basis index: the basis of ED in a fixed-magnetization sector."""
    return indices_to_configurations(sector_indices(n_sites, n_down), n_sites)


def site_tensor(psi, n_sites):
    """View a state vector over the basis as a tensor ``[2]*N`` whose axis ``i`` is ``x_i``."""
    n_sites = validation.integer("n_sites", n_sites, minimum=1)
    psi = np.asarray(psi)
    if psi.shape != (2**n_sites,):
        raise ValueError(f"psi must have shape (2**n_sites,) = ({2**n_sites},), got {psi.shape}")
    return psi.reshape((2,) * n_sites)


def pauli_z(x, dtype=tf.float64):
    """Eigenvalues ``Z_i = 1 - 2 x_i`` (+1 up, -1 down) of configurations ``x``, as a TF tensor."""
    return 1 - 2 * tf.cast(x, dtype)


def first_set_sites(masks):
    """For XOR masks [M, N] (row m flips the sites where it is 1): the first site each row
    changes, N for a row that changes nothing. A tuple of M ints (static, for tracing)."""
    masks = np.asarray(masks) != 0
    return tuple(int(np.argmax(row)) if row.any() else masks.shape[1] for row in masks)


def word_size(dictionary_size):
    """Bits per token ``w = log2(d)`` for a dictionary of ``d = 2**w`` tokens."""
    d = dictionary_size
    if not validation.is_integer(d) or d < 2 or d & (d - 1) or d > 2**MAX_WORD_SIZE:
        raise ValueError(
            f"dictionary_size must be a power of two >= 2 (and <= 2**{MAX_WORD_SIZE} so tokens "
            f"fit in int32), got {d!r}"
        )
    return int(d).bit_length() - 1


def _check_word_size(w):
    if not validation.is_integer(w) or not 1 <= w <= MAX_WORD_SIZE:
        raise ValueError(f"word_size must be an integer in [1, {MAX_WORD_SIZE}], got {w!r}")
    return int(w)


def check_n_sites(n_sites, word_size):
    """Validate that ``n_sites`` splits into words of ``word_size`` bits; returns the number of
    tokens ``n_sites // word_size``."""
    n_sites = validation.integer("n_sites", n_sites, minimum=1)
    w = _check_word_size(word_size)
    if n_sites % w:
        raise ValueError(
            f"n_sites={n_sites} is not divisible by the word size w={w} "
            f"(dictionary size {2**w}); choose n_sites as a multiple of w"
        )
    return n_sites // w


def spins_to_tokens(x, word_size):
    """Pack spins ``[..., N]`` (0/1) into int32 tokens ``[..., N // w]``.

    Token ``t = sum_j x_{t*w + j} 2**(w - 1 - j)``: the first spin of a word is the most
    significant bit. A TF op; accepts numpy or tensors and works inside ``tf.function``.
    """
    w = _check_word_size(word_size)
    x = tf.cast(tf.convert_to_tensor(x), tf.int32)
    n_sites = x.shape[-1]
    if n_sites is not None:
        check_n_sites(n_sites, w)
    words = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [-1, w]], axis=0))
    weights = tf.bitwise.left_shift(tf.ones([w], tf.int32), tf.range(w - 1, -1, -1, dtype=tf.int32))
    return tf.reduce_sum(words * weights, axis=-1)


def tokens_to_spins(tokens, word_size):
    """Unpack int tokens ``[..., T]`` into int32 spins ``[..., T * w]``; inverse of
    :func:`spins_to_tokens` (first spin of a word = most significant bit)."""
    w = _check_word_size(word_size)
    tokens = tf.cast(tf.convert_to_tensor(tokens), tf.int32)
    shifts = tf.range(w - 1, -1, -1, dtype=tf.int32)
    bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(tokens[..., None], shifts), 1)
    return tf.reshape(bits, tf.concat([tf.shape(tokens)[:-1], [-1]], axis=0))


__all__ = [
    "first_set_sites",
    "MAX_WORD_SIZE",
    "all_configurations",
    "check_n_sites",
    "configurations_to_indices",
    "indices_to_configurations",
    "pauli_z",
    "sector_configurations",
    "sector_indices",
    "site_tensor",
    "spins_to_tokens",
    "tokens_to_spins",
    "word_size",
]
