"""Rényi entropies by the replica (swap) estimator.

For a region A of the sites, B its complement, and an integer n >= 2, the Rényi entropy is

    S_n(A) = log(Tr rho_A^n) / (1 - n)        (natural log).

Draw n independent samples x^(1), ..., x^(n) ~ |psi|^2 and cyclically permute their A-parts:
y^(k) = (A-part of x^(k+1), B-part of x^(k)), indices mod n. Then

    Tr rho_A^n = E[ prod_k psi(y^(k)) / psi(x^(k)) ]

(Hastings, González, Kallin & Melko, PRL 104, 157201 (2010), for n = 2; the cyclic form for any
n). The product is complex when psi has a phase; its mean is real (the trace is), so the
estimator averages the real part of the per-tuple product. With the mean P and its standard
error dP, S_n = log(P) / (1 - n) and, by the delta method, dS_n = dP / ((n - 1) P). When noise
makes P <= 0 the estimate is NaN.

For a pure state S_n(A) = S_n(B), so the estimator swaps whichever of A and B does not hold site
0: the swapped configurations then share a prefix with the originals, which autoregressive
wavefunctions reuse (``connected_log_psi``); for the cuts of a chain that halves the work.
"""
import numbers

import numpy as np
import tensorflow as tf

from tfqsr import hilbert
from tfqsr.analysis.statistics import (Estimate, MeanAccumulator, draw_samples, map_batches,
                                       real_ratio)
from tfqsr.analysis.observables import DEFAULT_BATCH_SIZE
from tfqsr.operators.base import connected_log_psi


def check_order(n):
    """The Rényi index as int, or ValueError unless it is an integer >= 2."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"the Rényi index n must be an integer >= 2, got {n!r}")
    return int(n)


def region_mask(sites, n_sites):
    """Boolean mask [N] of the region ``sites`` (non-empty, distinct integers in [0, N))."""
    sites = np.asarray(sites).ravel().tolist()
    if not sites:
        raise ValueError("sites (the region A) must not be empty")
    if any(isinstance(s, bool) or not isinstance(s, int) for s in sites):
        raise ValueError(f"sites must be integers, got {sites!r}")
    if any(not 0 <= s < n_sites for s in sites):
        raise ValueError(f"sites must lie in [0, n_sites={n_sites}), got {sites}")
    if len(set(sites)) != len(sites):
        raise ValueError(f"sites must not repeat, got {sites}")
    mask = np.zeros(n_sites, bool)
    mask[np.asarray(sites, int)] = True
    return mask


def swap_estimator(wavefunction, replicas, regions, *, batch_size=DEFAULT_BATCH_SIZE, verbose=0):
    """S_n for several regions from n replica batches (see the module docstring).

    Args:
      wavefunction: anything with ``log_psi(x)`` (see ``connected_log_psi``).
      replicas: int [n, B, N]: n >= 2 independent batches of B samples each.
      regions: bool [R, N]: the regions A, one per row.
      batch_size: configurations per call of log psi (about; at least one sample tuple).
    Returns:
      ``(entropies, trace)``: Estimates [R] of S_n and of Tr rho_A^n.
    """
    replicas = tf.constant(np.asarray(replicas, np.int32))
    regions = np.asarray(regions, bool)
    if replicas.shape.rank != 3 or regions.ndim != 2 or regions.shape[1] != replicas.shape[2]:
        raise ValueError(f"replicas [n, B, N] and regions [R, N] do not fit: {replicas.shape}, "
                         f"{regions.shape}")
    order = check_order(replicas.shape[0])
    n_regions = regions.shape[0]
    swapped = regions ^ regions[:, :1]  # the side (A or B) without site 0 ...
    whole = ~swapped.any(axis=1)
    swapped[whole] = regions[whole]  # ... unless A is the whole chain
    changed_sites = ((),) + hilbert.site_sets(swapped)
    accumulator = MeanAccumulator()
    rows = max(1, batch_size // (order * (n_regions + 1)))
    tuples = tf.transpose(replicas, [1, 0, 2])  # [B, n, N]: one sample tuple per row
    swapped_regions = tf.constant(swapped)
    for values in map_batches(
            lambda x: _swap_products(wavefunction, x, swapped_regions, changed_sites), [tuples],
            rows, verbose=verbose, unit_name="tuple"):
        accumulator.add(values)
    trace = accumulator.result()
    return entropy_from_trace(trace, order), trace


def entropy_from_trace(trace, order):
    """S_n = log(Tr rho_A^n) / (1 - n) and its delta-method error dP / ((n - 1) P) from the
    Estimate of the trace P (NaN where P <= 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return Estimate(np.log(trace.value) / (1 - order),
                        trace.error / ((order - 1) * np.abs(trace.value)))


@tf.function(reduce_retracing=True)
def _swap_products(wavefunction, x, regions, changed_sites):
    """Re prod_k psi(y^(k)) / psi(x^(k)) [c, R] for sample tuples x [c, n, N], regions [R, N]."""
    n_regions, n_sites = tf.unstack(tf.shape(regions))
    n_replicas = tf.shape(x)[1]
    swapped = tf.where(regions[None, None], tf.roll(x, shift=-1, axis=1)[:, :, None], x[:, :, None])
    configurations = tf.concat([x[:, :, None], swapped], axis=2)  # [c, n, R + 1, N]
    log_psi = connected_log_psi(wavefunction, tf.reshape(configurations, [-1, n_regions + 1, n_sites]),
                                changed_sites)
    log_psi = tf.reshape(log_psi, [-1, n_replicas, n_regions + 1])
    return real_ratio(tf.reduce_sum(log_psi[:, :, 1:] - log_psi[:, :, :1], axis=1))


def _replicas(wavefunction, n, n_samples, seed):
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    return draw_samples(wavefunction, n * n_samples, seed).reshape(n, n_samples, -1)


def renyi_entropy(wavefunction, sites, n=2, *, n_samples=10000, seed=0,
                  batch_size=DEFAULT_BATCH_SIZE, verbose=0):
    """``(S_n, standard error)`` of the region ``sites`` (any subset of the sites).

    Draws n independent batches of ``n_samples`` samples (stateless seeds from ``seed``).
    """
    n = check_order(n)
    mask = region_mask(sites, wavefunction.n_sites)
    entropy, _ = swap_estimator(wavefunction, _replicas(wavefunction, n, n_samples, seed),
                                mask[None], batch_size=batch_size, verbose=verbose)
    return float(entropy.value[0]), float(entropy.error[0])


def cut_regions(n_sites):
    """Masks [N - 1, N] of the left blocks A = {0, ..., l - 1} for the cuts l = 1, ..., N - 1."""
    return np.tri(n_sites - 1, n_sites, k=0, dtype=bool)


def renyi_entropy_cuts(wavefunction, n=2, *, n_samples=10000, seed=0, replicas=None,
                       batch_size=DEFAULT_BATCH_SIZE, verbose=0):
    """S_n of every cut of a chain in one pass: an Estimate [N - 1], entry l - 1 for the left
    block A = {0, ..., l - 1}. All cuts share the samples and are batched into the same calls
    of log psi. ``replicas`` [n, B, N] replaces drawing n batches of ``n_samples``.
    """
    n = check_order(n)
    if replicas is None:
        replicas = _replicas(wavefunction, n, n_samples, seed)
    entropy, _ = swap_estimator(wavefunction, replicas, cut_regions(wavefunction.n_sites),
                                batch_size=batch_size, verbose=verbose)
    return entropy
