"""Haldane–Shastry chain and its modified (volume-law) variant: all-to-all inverse-square
couplings in the chord distance."""
import numpy as np

from tfqsr import validation
from tfqsr.operators.pair import PairInteraction


def inverse_square_couplings(n_sites):
    """All pairs ``i < j`` (int ``[N(N-1)/2, 2]``) and ``1 / d_ij**2`` with the chord distance
    ``d_ij = (N / pi) |sin(pi (i - j) / N)|`` (the distance on a ring of circumference ``N``)."""
    i, j = np.triu_indices(n_sites, k=1)
    chord = (n_sites / np.pi) * np.abs(np.sin(np.pi * (i - j) / n_sites))
    return np.stack([i, j], axis=1), 1.0 / chord**2


class HaldaneShastry(PairInteraction):
    """``H = sum_{i<j} (X_i X_j + Y_i Y_j + Z_i Z_j) / d_ij**2``, Pauli units, chord distance
    ``d_ij = (N/pi)|sin(pi(i-j)/N)|``. Ground-state energy ``-(pi**2/6)(N + 5/N)`` for even N
    (:func:`tfqsr.exact.haldane_shastry_ground_state_energy`). ``M = 1 + N(N-1)/2``."""

    name = "haldane_shastry"

    def __init__(self, n_sites):
        n_sites = validation.integer("n_sites", n_sites, minimum=2)
        pairs, coupling = inverse_square_couplings(n_sites)
        super().__init__(n_sites, pairs, j_zz=coupling, j_xy=coupling)

    def __repr__(self):
        return f"HaldaneShastry(n_sites={self.n_sites})"


class ModifiedHaldaneShastry(PairInteraction):
    """``H = sum_{i<j} (Z_i Z_j - X_i X_j - Y_i Y_j) / d_ij**2``, Pauli units: the Haldane–Shastry
    couplings with the sign of the XY part reversed, whose ground state has volume-law
    entanglement (Zhang & Di Ventra, "Transformer quantum state", PRB 107, 075147 (2023))."""

    name = "modified_haldane_shastry"

    def __init__(self, n_sites):
        n_sites = validation.integer("n_sites", n_sites, minimum=2)
        pairs, coupling = inverse_square_couplings(n_sites)
        super().__init__(n_sites, pairs, j_zz=coupling, j_xy=-coupling)

    def __repr__(self):
        return f"ModifiedHaldaneShastry(n_sites={self.n_sites})"
