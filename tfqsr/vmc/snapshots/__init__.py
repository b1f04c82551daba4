"""Measurement snapshots of the exact Rydberg ground state: ``python -m tfqsr.vmc.snapshots``
(the command line, in ``__main__``); from Python, ``rydberg_snapshots`` of ``tfqsr.vmc.data``."""
from tfqsr.vmc.data import rydberg_snapshots

__all__ = ["rydberg_snapshots"]
