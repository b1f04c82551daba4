"""Heisenberg chain."""
from tfqsr import validation
from tfqsr.operators import bonds
from tfqsr.operators.pair import PairInteraction


class Heisenberg(PairInteraction):
    """``H = J sum_<ij> (X_i X_j + Y_i Y_j + Z_i Z_j)`` on a chain, Pauli units (``= 4 J S_i.S_j``
    with spin-1/2 operators ``S = sigma/2``). ``J > 0`` is antiferromagnetic; nearest-neighbour
    bonds, periodic when ``pbc`` (for ``n_sites = 2`` the periodic chain has one bond)."""

    name = "heisenberg"

    def __init__(self, n_sites, J=1.0, pbc=True):
        n_sites = validation.integer("n_sites", n_sites, minimum=2)
        self.J = validation.real("J", J)
        self.pbc = bool(pbc)
        pairs = bonds.chain_bonds(n_sites, self.pbc)
        super().__init__(n_sites, pairs, [self.J] * len(pairs), [self.J] * len(pairs))

    def __repr__(self):
        return f"Heisenberg(n_sites={self.n_sites}, J={self.J}, pbc={self.pbc})"
