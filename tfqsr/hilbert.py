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
* Tokens: a model reads a configuration as T tokens of k sites each, in the order of a
  :class:`TokenLayout` (words of a chain, 2D patches, nested patches); a token is the k-bit
  integer whose most significant bit is its first site (dictionary size ``d = 2**k``).

    >>> WordLayout(4, 2).to_tokens([[0, 1, 1, 0]]).numpy()   # words (0,1) and (1,0)
    array([[1, 2]], dtype=int32)
    >>> PatchLayout((2, 4), (2, 2)).to_tokens([[0, 1, 1, 0, 1, 0, 0, 1]]).numpy()
    array([[6, 9]], dtype=int32)
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



# --- changed sites -------------------------------------------------------------------------
def site_sets(masks):
    """Static site sets from 0/1 masks [M, N]: a tuple of M sorted tuples of the sites where
    row m is non-zero. The hashable form of "column m may differ from the reference only on
    these sites" that operators and estimators hand to ``log_psi_connected`` (and that
    ``tf.function`` takes as a trace-time constant)."""
    masks = np.asarray(masks) != 0
    return tuple(tuple(int(site) for site in np.flatnonzero(row)) for row in masks)


# --- token layouts -------------------------------------------------------------------------
def word_size(dictionary_size):
    """Bits per token ``w = log2(d)`` for a dictionary of ``d = 2**w`` tokens."""
    d = dictionary_size
    validation.check(validation.is_integer(d) and d >= 2 and not d & (d - 1) and d <= 2**MAX_WORD_SIZE,
                     "dictionary_size", f"a power of two >= 2 (and <= 2**{MAX_WORD_SIZE} so tokens "
                     "fit in int32)", d)
    return int(d).bit_length() - 1


class TokenLayout:
    """Which sites form each token, in which order, both ways.

    A layout of N sites into T tokens of k sites is a permutation ``order`` of the sites: token
    t covers sites ``order[t*k : (t+1)*k]``, and its value is the k-bit integer whose most
    significant bit is the first of them,

        token_t = sum_j x_{order[t*k + j]} 2**(k - 1 - j),   dictionary size d = 2**k.

    An autoregressive model generates tokens 0, 1, ..., T-1 in this order; ``token_of_site``
    maps back, so the first token a set of changed sites touches is the smallest
    ``token_of_site`` among them (:meth:`first_changed_token`), which for 2D patches is not the
    token of the smallest site. The basis index of ED (:func:`configurations_to_indices`)
    depends on sites only, never on a layout.

    Use the constructors :class:`WordLayout` (w consecutive spins of a chain),
    :class:`PatchLayout` (px x py patches of an Lx x Ly lattice) and
    :class:`NestedPatchLayout` (small patches inside large ones); :func:`layout_from_config`
    rebuilds any of them from :meth:`get_config`.
    """

    kind = None  # the name get_config records

    def __init__(self, order, token_size):
        order = np.asarray(order, dtype=np.int64)
        self.n_sites = validation.integer("n_sites", int(order.size), minimum=1)
        validation.check(np.array_equal(np.sort(order), np.arange(self.n_sites)), "order",
                         "a permutation of the sites", order.tolist())
        self.token_size = validation.integer("token_size", token_size, minimum=1, maximum=MAX_WORD_SIZE)
        validation.check(self.n_sites % self.token_size == 0, "token_size",
                         f"a divisor of n_sites={self.n_sites}", token_size)
        self.n_tokens = self.n_sites // self.token_size
        self.dictionary_size = 2**self.token_size
        self.token_sites = order.reshape(self.n_tokens, self.token_size)
        self.token_of_site = np.empty(self.n_sites, np.int64)
        self.token_of_site[order] = np.arange(self.n_sites) // self.token_size
        self._order = order
        self._identity = bool(np.array_equal(order, np.arange(self.n_sites)))
        self._inverse = np.argsort(order)

    def to_tokens(self, x):
        """int32 tokens [..., T] of spins ``x`` [..., N] (a TF op; works in ``tf.function``)."""
        x = tf.cast(tf.convert_to_tensor(x), tf.int32)
        if x.shape[-1] is not None and x.shape[-1] != self.n_sites:
            raise ValueError(f"x has {x.shape[-1]} sites, the layout {self.n_sites}")
        if not self._identity:
            x = tf.gather(x, self._order, axis=-1)
        bits = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [self.n_tokens, self.token_size]], axis=0))
        weights = tf.bitwise.left_shift(1, tf.range(self.token_size - 1, -1, -1, dtype=tf.int32))
        return tf.reduce_sum(bits * weights, axis=-1)

    def to_spins(self, tokens):
        """int32 spins [..., N] of int tokens [..., T]; the inverse of :meth:`to_tokens`."""
        tokens = tf.cast(tf.convert_to_tensor(tokens), tf.int32)
        shifts = tf.range(self.token_size - 1, -1, -1, dtype=tf.int32)
        bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(tokens[..., None], shifts), 1)
        x = tf.reshape(bits, tf.concat([tf.shape(tokens)[:-1], [self.n_sites]], axis=0))
        return x if self._identity else tf.gather(x, self._inverse, axis=-1)

    def first_changed_token(self, sites):
        """The first token that changes when ``sites`` (an iterable of site indices) change;
        ``n_tokens`` when ``sites`` is empty."""
        sites = np.asarray(tuple(sites), dtype=np.int64)
        return int(self.token_of_site[sites].min()) if sites.size else self.n_tokens

    def first_changed_tokens(self, changed_sites):
        """:meth:`first_changed_token` of each of a sequence of site sets (a tuple of ints)."""
        return tuple(self.first_changed_token(sites) for sites in changed_sites)

    def get_config(self):
        """A JSON-serializable dict that :func:`layout_from_config` turns back into the layout."""
        raise NotImplementedError

    def __eq__(self, other):
        return isinstance(other, TokenLayout) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(repr(self))

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "kind")
        return f"{type(self).__name__}({arguments})"


class WordLayout(TokenLayout):
    """Words of ``word_size`` consecutive spins of a chain: token t covers sites
    ``t*w, ..., t*w + w - 1`` (dictionary size 2**w; w = N makes the single token the basis
    index)."""

    kind = "words"

    def __init__(self, n_sites, word_size=1):
        n_sites = validation.integer("n_sites", n_sites, minimum=1)
        w = validation.integer("word_size", word_size, minimum=1, maximum=MAX_WORD_SIZE)
        validation.check(n_sites % w == 0, "n_sites",
                         f"divisible by the word size w={w} (dictionary size {2**w}); choose "
                         "n_sites as a multiple of w", n_sites)
        super().__init__(np.arange(n_sites), w)

    def get_config(self):
        return {"kind": self.kind, "n_sites": self.n_sites, "word_size": self.token_size}


def _lattice_and_patch(lattice, patch, patch_name="patch"):
    """Validated (Lx, Ly) and (px, py) with px | Lx and py | Ly."""
    def pair(name, value):
        ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(
            validation.is_integer(v) and v >= 1 for v in value)
        validation.check(ok, name, "a pair of integers >= 1", value)
        return int(value[0]), int(value[1])

    (lx, ly), (px, py) = pair("lattice", lattice), pair(patch_name, patch)
    validation.check(lx % px == 0 and ly % py == 0, patch_name,
                     f"a patch whose sides divide the lattice sides {lx}x{ly}", patch)
    return (lx, ly), (px, py)


def _raster_patches(lattice, patch):
    """Site indices [n_patches, px*py] of the px x py patches of an Lx x Ly lattice (site
    x*Ly + y), patches in raster order and sites row-major inside each."""
    (lx, ly), (px, py) = lattice, patch
    sites = np.arange(lx * ly).reshape(lx // px, px, ly // py, py)
    return sites.transpose(0, 2, 1, 3).reshape(-1, px * py)


class PatchLayout(TokenLayout):
    """``px x py`` patches of an ``Lx x Ly`` lattice.

    Sites are row-major, site ``i = x * Ly + y`` for row x and column y (as
    ``TransverseFieldIsing(shape=(Lx, Ly))``); patches are tokens in raster order (patch
    ``(a, b)`` is token ``a * (Ly // py) + b``), and the sites of a patch are read row-major,
    its top-left site the most significant bit.
    """

    kind = "patches"

    def __init__(self, lattice, patch):
        self.lattice, self.patch = _lattice_and_patch(lattice, patch)
        super().__init__(_raster_patches(self.lattice, self.patch).ravel(), self.patch[0] * self.patch[1])

    def get_config(self):
        return {"kind": self.kind, "lattice": list(self.lattice), "patch": list(self.patch)}


class NestedPatchLayout(TokenLayout):
    """Small ``px x py`` patches inside large ``Px x Py`` patches of an ``Lx x Ly`` lattice,
    for models that generate a large patch as a sequence of small ones.

    Large patches in raster order over the lattice; inside each, its small patches in raster
    order over the large patch; inside each small patch, sites row-major. Tokens are the small
    patches, so token ``t`` lies in large patch ``t // tokens_per_group``.
    """

    kind = "nested_patches"

    def __init__(self, lattice, large_patch, small_patch):
        self.lattice, self.large_patch = _lattice_and_patch(lattice, large_patch, "large_patch")
        _, self.small_patch = _lattice_and_patch(self.large_patch, small_patch, "small_patch")
        large = _raster_patches(self.lattice, self.large_patch)           # [G, Px*Py]
        inner = _raster_patches(self.large_patch, self.small_patch)       # [S, px*py] within
        super().__init__(large[:, inner].ravel(), self.small_patch[0] * self.small_patch[1])
        self.n_groups = large.shape[0]
        self.tokens_per_group = inner.shape[0]

    def get_config(self):
        return {"kind": self.kind, "lattice": list(self.lattice),
                "large_patch": list(self.large_patch), "small_patch": list(self.small_patch)}


_LAYOUTS = {cls.kind: cls for cls in (WordLayout, PatchLayout, NestedPatchLayout)}


def layout_from_config(config):
    """The layout of ``TokenLayout.get_config()``."""
    config = dict(config)
    kind = config.pop("kind", None)
    validation.check(kind in _LAYOUTS, "layout kind", f"one of {', '.join(_LAYOUTS)}", kind)
    return _LAYOUTS[kind](**config)


def resolve_layout(n_sites, dictionary_size=None, layout=None):
    """The layout of a model: ``layout`` (a TokenLayout or its config), else words of
    log2(``dictionary_size``) spins (default 2: one spin per token) of a chain of ``n_sites``.
    Raises ConfigError when they disagree."""
    if layout is None:
        return WordLayout(n_sites, word_size(2 if dictionary_size is None else dictionary_size))
    if isinstance(layout, dict):
        layout = layout_from_config(layout)
    validation.check(isinstance(layout, TokenLayout), "layout", "a TokenLayout or its config", layout)
    validation.check(layout.n_sites == n_sites, "layout", f"a layout of n_sites={n_sites} sites", layout)
    validation.check(dictionary_size in (None, layout.dictionary_size), "dictionary_size",
                     f"None or the layout's {layout.dictionary_size}", dictionary_size)
    return layout


__all__ = [
    "MAX_WORD_SIZE",
    "NestedPatchLayout",
    "PatchLayout",
    "TokenLayout",
    "WordLayout",
    "all_configurations",
    "configurations_to_indices",
    "indices_to_configurations",
    "layout_from_config",
    "pauli_z",
    "resolve_layout",
    "sector_configurations",
    "sector_indices",
    "site_sets",
    "site_tensor",
    "word_size",
]
