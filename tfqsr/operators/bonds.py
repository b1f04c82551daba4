"""Nearest-neighbour bond lists of chains and square lattices.

Bonds are distinct unordered pairs ``(i, j)`` with ``i < j``, sorted. A periodic direction of
length 2 therefore adds no second bond (the wrap-around bond coincides with the open one).
"""
import numpy as np


def chain_bonds(n_sites, pbc):
    """Bonds ``(i, i+1)`` of a chain, plus ``(0, N-1)`` when periodic; int32 ``[n_bonds, 2]``."""
    pairs = {(i, i + 1) for i in range(n_sites - 1)}
    if pbc:
        pairs.add((0, n_sites - 1))
    return np.array(sorted(pairs), dtype=np.int32).reshape(-1, 2)


def square_bonds(shape, pbc):
    """Nearest-neighbour bonds of an ``Lx x Ly`` square lattice, site ``i = x * Ly + y``,
    periodic in both directions when ``pbc``; int32 ``[n_bonds, 2]``."""
    lx, ly = shape
    pairs = set()
    for x in range(lx):
        for y in range(ly):
            for nx, ny in ((x + 1, y), (x, y + 1)):
                if pbc:
                    nx, ny = nx % lx, ny % ly
                elif nx >= lx or ny >= ly:
                    continue
                i, j = x * ly + y, nx * ly + ny
                pairs.add((min(i, j), max(i, j)))
    return np.array(sorted(pairs), dtype=np.int32).reshape(-1, 2)
