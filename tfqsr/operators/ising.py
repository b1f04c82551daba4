"""Transverse-field Ising model on a chain or a square lattice."""
import numpy as np
import tensorflow as tf

from tfqsr import hilbert, validation
from tfqsr.operators import bonds
from tfqsr.operators.base import Operator


class TransverseFieldIsing(Operator):
    """``H = -J sum_<ij> Z_i Z_j - h sum_i X_i`` in Pauli units (``Z``, ``X`` Pauli matrices).

    ``J > 0`` is ferromagnetic; ``<ij>`` runs over nearest-neighbour bonds of a chain
    (``shape=None``) or of an ``Lx x Ly`` square lattice (``shape=(Lx, Ly)``, ``n_sites = Lx*Ly``,
    site ``i = x * Ly + y``), periodic in every direction when ``pbc``. Bonds are distinct pairs:
    a periodic direction of length 2 has a single bond per pair of sites.

    ``connected``: the diagonal ``-J sum_<ij> z_i z_j`` (``z = 1 - 2x``) at ``m = 0``, then the
    ``N`` single flips of site ``m - 1`` with element ``-h`` (``M = N + 1``; ``M = 1`` if
    ``h = 0``).
    """

    name = "tfim"

    def __init__(self, n_sites, h=1.0, J=1.0, pbc=False, shape=None):
        n_sites = validation.integer("n_sites", n_sites, minimum=2)
        self.h = validation.real("h", h)
        self.J = validation.real("J", J)
        self.pbc = bool(pbc)
        if shape is None:
            self.shape = None
            self.bonds = bonds.chain_bonds(n_sites, self.pbc)
        else:
            valid = isinstance(shape, (tuple, list)) and len(shape) == 2 and all(validation.is_integer(s) and s >= 2 for s in shape)
            if not valid or shape[0] * shape[1] != n_sites:
                raise ValueError(
                    f"shape must be a pair (Lx, Ly) of integers >= 2 with Lx * Ly = n_sites={n_sites}, "
                    f"got {shape!r}"
                )
            self.shape = (int(shape[0]), int(shape[1]))
            self.bonds = bonds.square_bonds(self.shape, self.pbc)
        n_flips = n_sites if self.h != 0 else 0
        # Row m of the XOR masks: nothing for the diagonal, then a flip of site m - 1.
        masks = np.eye(n_sites + 1, n_sites, k=-1, dtype=np.int32)[: 1 + n_flips]
        super().__init__(n_sites, 1 + n_flips, hilbert.site_sets(masks))
        self._flip_masks = masks
        self._masks = tf.constant(masks)

    @property
    def flip_masks(self):
        return self._flip_masks

    def connected(self, x):
        x = self._as_configurations(x)
        z = hilbert.pauli_z(x)
        zz = tf.gather(z, self.bonds[:, 0], axis=1) * tf.gather(z, self.bonds[:, 1], axis=1)
        diagonal = -self.J * tf.reduce_sum(zz, axis=1, keepdims=True)
        x_conn = tf.bitwise.bitwise_xor(x[:, None, :], self._masks)
        flips = tf.fill([tf.shape(x)[0], self.max_conn - 1], tf.constant(-self.h, tf.float64))
        return x_conn, tf.concat([diagonal, flips], axis=1)

    def __repr__(self):
        return (
            f"TransverseFieldIsing(n_sites={self.n_sites}, h={self.h}, J={self.J}, "
            f"pbc={self.pbc}, shape={self.shape})"
        )
