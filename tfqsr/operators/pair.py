"""Two-body XXZ interactions on an arbitrary list of pairs: the shared core of the Heisenberg,
Haldane–Shastry and modified Haldane–Shastry Hamiltonians."""
import numpy as np
import tensorflow as tf

from tfqsr import hilbert, validation
from tfqsr.operators.base import Operator


class PairInteraction(Operator):
    """``H = sum_p [ J_zz[p] Z_i Z_j + J_xy[p] (X_i X_j + Y_i Y_j) ]`` over pairs ``p = (i, j)``,
    Pauli units.

    On a pair ``X_i X_j + Y_i Y_j = 2 (S+_i S-_j + S-_i S+_j)`` in Pauli form: it maps an
    anti-aligned pair ``(x_i != x_j)`` to the flipped pair with element 2 and annihilates an aligned
    pair; ``Z_i Z_j`` is diagonal with value ``z_i z_j = +-1``. Hence the operator conserves
    ``sum_i Z_i``.

    ``connected``: the diagonal at ``m = 0``, then one entry per pair with ``J_xy != 0``: the
    pair flipped with element ``2 J_xy`` if it is anti-aligned, else ``x`` itself with element 0
    (``M = 1 + #pairs with J_xy != 0``).

    Args:
      n_sites: number of spins (>= 2).
      pairs: int ``[P, 2]`` distinct sites ``i != j``; each unordered pair at most once.
      j_zz, j_xy: float ``[P]`` couplings.
    """

    name = "pair_interaction"

    def __init__(self, n_sites, pairs, j_zz, j_xy):
        n_sites = validation.integer("n_sites", n_sites, minimum=2)
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        j_zz = np.asarray(j_zz, dtype=np.float64).reshape(-1)
        j_xy = np.asarray(j_xy, dtype=np.float64).reshape(-1)
        if len(pairs) == 0:
            raise ValueError("pairs must not be empty")
        if j_zz.shape != (len(pairs),) or j_xy.shape != (len(pairs),):
            raise ValueError(
                f"j_zz and j_xy must have one coupling per pair ({len(pairs)}), "
                f"got shapes {j_zz.shape} and {j_xy.shape}"
            )
        if not (np.all(np.isfinite(j_zz)) and np.all(np.isfinite(j_xy))):
            raise ValueError("j_zz and j_xy must be finite")
        if pairs.min() < 0 or pairs.max() >= n_sites or np.any(pairs[:, 0] == pairs[:, 1]):
            raise ValueError(
                f"pairs must hold two distinct sites in [0, n_sites={n_sites}), got {pairs.tolist()}"
            )
        if len(np.unique(np.sort(pairs, axis=1), axis=0)) != len(pairs):
            raise ValueError("pairs must not repeat a pair of sites")
        self.pairs = pairs.astype(np.int32)
        self.j_zz = j_zz
        self.j_xy = j_xy
        hopping = j_xy != 0
        hop_pairs = self.pairs[hopping]
        masks = np.zeros((len(hop_pairs), n_sites), dtype=np.int32)
        masks[np.arange(len(hop_pairs))[:, None], hop_pairs] = 1
        super().__init__(n_sites, 1 + len(hop_pairs), ((),) + hilbert.site_sets(masks))
        self._hop_pairs = hop_pairs
        self._hop_masks = tf.constant(masks)
        self._hop_elements = tf.constant(2.0 * j_xy[hopping])

    @property
    def conserves_magnetization(self):
        return True

    def connected(self, x):
        x = self._as_configurations(x)
        z = hilbert.pauli_z(x)
        zz = tf.gather(z, self.pairs[:, 0], axis=1) * tf.gather(z, self.pairs[:, 1], axis=1)
        diagonal = tf.reduce_sum(zz * self.j_zz, axis=1, keepdims=True)
        # anti[b, p] = 1 if the p-th hopping pair of sample b is anti-aligned.
        anti = tf.bitwise.bitwise_xor(
            tf.gather(x, self._hop_pairs[:, 0], axis=1), tf.gather(x, self._hop_pairs[:, 1], axis=1)
        )
        x_off = tf.bitwise.bitwise_xor(x[:, None, :], anti[:, :, None] * self._hop_masks)
        mels_off = tf.cast(anti, tf.float64) * self._hop_elements
        x_conn = tf.concat([x[:, None, :], x_off], axis=1)
        return x_conn, tf.concat([diagonal, mels_off], axis=1)

    def __repr__(self):
        return f"PairInteraction(n_sites={self.n_sites}, n_pairs={len(self.pairs)})"
