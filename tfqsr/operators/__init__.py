"""Hamiltonians. Each implements ``connected(x)``; ``local_energy``, ``to_sparse`` and
``to_dense`` are derived in :class:`Operator`."""
from tfqsr.operators.base import Operator
from tfqsr.operators.haldane_shastry import HaldaneShastry, ModifiedHaldaneShastry
from tfqsr.operators.heisenberg import Heisenberg
from tfqsr.operators.ising import TransverseFieldIsing
from tfqsr.operators.pair import PairInteraction
from tfqsr.operators.rydberg import Rydberg

__all__ = [
    "HaldaneShastry",
    "Heisenberg",
    "ModifiedHaldaneShastry",
    "Operator",
    "PairInteraction",
    "Rydberg",
    "TransverseFieldIsing",
]
