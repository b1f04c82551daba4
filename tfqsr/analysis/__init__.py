"""Measuring and looking inside trained wavefunctions: correlations, Rényi entropies, saliency.

    tfqsr.analysis.correlations(wavefunction, n_samples=..., seed=...)    Z, ZZ, connected ZZ, X, XX
    tfqsr.analysis.renyi_entropy(wavefunction, sites, n=2, ...)           (S_n, standard error)
    tfqsr.analysis.renyi_entropy_cuts(wavefunction, n=2, ...)             S_n of every cut
    tfqsr.analysis.saliency.saliency_maps(model, ...)                     the three saliency maps

Every estimator works from exact samples and returns standard errors (``Estimate``); exact
references for small systems are in ``tfqsr.exact``. ``python -m tfqsr.analyze`` runs it all on
a training run.
"""
from tfqsr.analysis import saliency
from tfqsr.analysis.entropy import renyi_entropy, renyi_entropy_cuts, swap_estimator
from tfqsr.analysis.observables import (Correlations, PairCorrelation, correlations, energy,
                                        magnetization_x, magnetization_z, xx_correlations,
                                        zz_correlations)
from tfqsr.analysis.statistics import Estimate

__all__ = ["Correlations", "Estimate", "PairCorrelation", "correlations", "energy",
           "magnetization_x", "magnetization_z", "renyi_entropy", "renyi_entropy_cuts",
           "saliency", "swap_estimator", "xx_correlations", "zz_correlations"]
