"""Independent dense reference: Hamiltonians as sums of Kronecker products of Pauli matrices
(site 0 leftmost, the basis order of tfqsr.hilbert)."""
from functools import reduce

import numpy as np

PAULI = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


def pauli_string(n_sites, ops):
    """Kronecker product with ``PAULI[ops[i]]`` on the sites ``i`` in ``ops``, identity elsewhere."""
    return reduce(np.kron, [PAULI[ops.get(i, "I")] for i in range(n_sites)])


def pauli_sum(n_sites, terms):
    """``sum_t coefficient_t * pauli_string(ops_t)`` for terms ``(coefficient, {site: "X"|"Y"|"Z"})``."""
    return sum(c * pauli_string(n_sites, ops) for c, ops in terms)
