"""Observables of a wavefunction from its exact samples x ~ |psi|^2, with standard errors.

Spins: ``x_i = 0`` is ``Z_i = +1``, ``x_i = 1`` is ``Z_i = -1`` (``tfqsr.hilbert``); Pauli units.

Diagonal observables are sample means of functions of the configuration:

    <Z_i>              = E[z_i],                z = 1 - 2x
    <Z_i Z_j>          = E[z_i z_j]
    <Z_i Z_j>_c        = <Z_i Z_j> - <Z_i><Z_j> = E[(z_i - m_i)(z_j - m_j)],  m = sample mean of z

(the last with m at its sample value is exactly the sample covariance; the per-sample values
(z_i - m_i)(z_j - m_j) are the delta-method influence function, so their standard error is the
error of the connected correlation to leading order in 1/n).

Off-diagonal observables are importance weighted: for an operator that flips the set S of spins,

    <X_S> = E_x[psi(x^S) / psi(x)],     x^S = x with the spins in S flipped,

and since X_S is Hermitian its expectation is real: the estimator uses the real part of each
ratio (the imaginary parts average to zero). ``<X_i>`` uses S = {i}, ``<X_i X_j>`` S = {i, j}.

Pair correlations are returned as full symmetric matrices (entries farther apart than
``max_distance`` are NaN) and as functions of the distance r = |i - j|: C(r) is the average
over all pairs at distance r (the translation average of an open or periodic chain), its error
from the per-sample pair averages, so the correlations between pairs are accounted for.
"""
import dataclasses
import numbers

import numpy as np
import tensorflow as tf

from tfqsr import hilbert
from tfqsr.analysis.statistics import (Estimate, MeanAccumulator, draw_samples, map_batches,
                                       mean_estimate, real_ratio)
from tfqsr.operators.base import connected_log_psi
from tfqsr.vmc.estimators import energy_statistics

# Configurations per call of log psi (memory of one forward pass).
DEFAULT_BATCH_SIZE = 4096


@dataclasses.dataclass(frozen=True)
class PairCorrelation:
    """A two-point function: ``matrix`` [N, N] and ``by_distance`` [max_distance + 1] Estimates."""
    matrix: Estimate
    by_distance: Estimate

    @property
    def distances(self):
        return np.arange(self.by_distance.value.shape[0])

    def to_json(self):
        return {"distances": self.distances.tolist(), "matrix": self.matrix.to_json(),
                "by_distance": self.by_distance.to_json()}


@dataclasses.dataclass(frozen=True)
class Correlations:
    """Everything :func:`correlations` measures; off-diagonal fields are None when skipped."""
    magnetization_z: Estimate
    zz: PairCorrelation
    zz_connected: PairCorrelation
    magnetization_x: Estimate = None
    xx: PairCorrelation = None

    def to_json(self):
        return {field.name: None if getattr(self, field.name) is None
                else getattr(self, field.name).to_json() for field in dataclasses.fields(self)}


def _check_samples(x):
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"samples must be an array [n_samples >= 1, n_sites], got shape {x.shape}")
    return x.astype(np.int32)


def _check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _pairs(n_sites, max_distance):
    """Pairs (i, j), 0 <= j - i <= max_distance, as int [P, 2], and the [P, R + 1] matrix that
    averages per-pair values over the pairs of each distance."""
    max_distance = n_sites - 1 if max_distance is None else _check_count("max_distance", max_distance)
    max_distance = min(max_distance, n_sites - 1)
    pairs = np.array([(i, i + r) for r in range(max_distance + 1) for i in range(n_sites - r)])
    distance = pairs[:, 1] - pairs[:, 0]
    averaging = np.zeros((len(pairs), max_distance + 1))
    averaging[np.arange(len(pairs)), distance] = 1.0 / (n_sites - distance)
    return pairs, averaging


def _pair_correlation(chunks, n_sites, pairs, averaging):
    """Accumulate per-sample pair values ([n, P] in chunks) into a :class:`PairCorrelation`."""
    per_pair, per_distance = MeanAccumulator(), MeanAccumulator()
    for values in chunks:
        per_pair.add(values)
        per_distance.add(values @ averaging)
    pair_estimate = per_pair.result()
    fields = []
    for column in (pair_estimate.value, pair_estimate.error):
        matrix = np.full((n_sites, n_sites), np.nan)
        matrix[pairs[:, 0], pairs[:, 1]] = matrix[pairs[:, 1], pairs[:, 0]] = column
        fields.append(matrix)
    return PairCorrelation(Estimate(*fields), per_distance.result())


def magnetization_z(samples):
    """``<Z_i>`` [N] from samples [n, N]."""
    return mean_estimate(1.0 - 2.0 * _check_samples(samples))


def zz_correlations(samples, *, connected=False, max_distance=None, batch_size=DEFAULT_BATCH_SIZE):
    """``<Z_i Z_j>`` (or, with ``connected``, ``<Z_i Z_j> - <Z_i><Z_j>``) from samples [n, N].

    Returns a :class:`PairCorrelation` over the pairs with ``|i - j| <= max_distance`` (all by
    default). ``batch_size`` bounds the per-sample pair values held at once (samples x pairs).
    """
    z = 1.0 - 2.0 * _check_samples(samples)
    n_sites = z.shape[1]
    if connected:
        z = z - z.mean(axis=0)
    pairs, averaging = _pairs(n_sites, max_distance)
    rows = max(1, batch_size // len(pairs))
    chunks = (z[start:start + rows, pairs[:, 0]] * z[start:start + rows, pairs[:, 1]]
              for start in range(0, len(z), rows))
    return _pair_correlation(chunks, n_sites, pairs, averaging)


def flip_ratios(wavefunction, samples, flips, *, batch_size=DEFAULT_BATCH_SIZE, verbose=0):
    """Yield, chunk by chunk of samples, ``Re psi(x^S) / psi(x)`` [chunk, P] for the P flip sets.

    ``flips`` is a 0/1 array [P, N] (row p flips the spins where it is 1). Each call of log psi
    takes a chunk of samples with all their flipped configurations, at most about
    ``batch_size`` configurations (at least one sample); autoregressive wavefunctions recompute
    only the conditionals after the first flipped site (``connected_log_psi``). Ratios are
    exponentiated in double precision from differences of log psi.
    """
    samples = _check_samples(samples)
    flips = np.asarray(flips, np.int32)
    first_changed = (samples.shape[1],) + hilbert.first_set_sites(flips)
    masks = tf.constant(np.concatenate([np.zeros_like(flips[:1]), flips]))
    rows = max(1, batch_size // (flips.shape[0] + 1))
    yield from map_batches(lambda x: _flip_ratio_chunk(wavefunction, x, masks, first_changed),
                           [samples], rows, verbose=verbose)


@tf.function(reduce_retracing=True)
def _flip_ratio_chunk(wavefunction, x, masks, first_changed):
    """Re psi(x ^ mask_p) / psi(x) [c, P] for x [c, N] and masks [P + 1, N] (row 0 zero)."""
    log_psi = connected_log_psi(wavefunction, tf.bitwise.bitwise_xor(x[:, None], masks[None]),
                                first_changed)
    return real_ratio(log_psi[:, 1:] - log_psi[:, :1])


def magnetization_x(wavefunction, samples, *, batch_size=DEFAULT_BATCH_SIZE, verbose=0):
    """``<X_i>`` [N] from samples [n, N] of ``wavefunction`` (N evaluations of psi per sample)."""
    samples = _check_samples(samples)
    accumulator = MeanAccumulator()
    for values in flip_ratios(wavefunction, samples, np.eye(samples.shape[1]),
                              batch_size=batch_size, verbose=verbose):
        accumulator.add(values)
    return accumulator.result()


def xx_correlations(wavefunction, samples, *, max_distance=None, batch_size=DEFAULT_BATCH_SIZE,
                    verbose=0):
    """``<X_i X_j>`` for ``|i - j| <= max_distance`` from samples [n, N] of ``wavefunction``.

    One evaluation of psi per pair and sample (N(N+1)/2 per sample for all distances).
    Returns a :class:`PairCorrelation`.
    """
    samples = _check_samples(samples)
    n_sites = samples.shape[1]
    pairs, averaging = _pairs(n_sites, max_distance)
    one_hot = np.eye(n_sites, dtype=np.int32)
    flips = one_hot[pairs[:, 0]] ^ one_hot[pairs[:, 1]]  # i == j flips nothing: <X_i X_i> = 1
    chunks = flip_ratios(wavefunction, samples, flips, batch_size=batch_size, verbose=verbose)
    return _pair_correlation(chunks, n_sites, pairs, averaging)


def energy(wavefunction, hamiltonian, samples, *, batch_size=DEFAULT_BATCH_SIZE, verbose=0):
    """``<H>`` from samples [n, N]: ``(energy, standard error, variance of E_loc)`` as floats.

    Local energies ``E_loc(x) = sum_x' H_xx' psi(x') / psi(x)`` come from the operator's
    ``local_energy`` (``hamiltonian.max_conn`` evaluations of psi per sample); the statistics
    are those of VMC (``tfqsr.vmc.estimators.energy_statistics``).
    """
    samples = _check_samples(samples)
    rows = max(1, batch_size // hamiltonian.max_conn)
    e_loc = np.concatenate(list(map_batches(
        lambda x: _local_energy_chunk(wavefunction, hamiltonian, x), [samples], rows,
        verbose=verbose)))
    return tuple(float(v) for v in energy_statistics(e_loc))


@tf.function(reduce_retracing=True)
def _local_energy_chunk(wavefunction, hamiltonian, x):
    return hamiltonian.local_energy(wavefunction, x)


def correlations(wavefunction, *, n_samples=10000, seed=0, offdiagonal_samples=None,
                 max_distance=None, batch_size=DEFAULT_BATCH_SIZE, verbose=0, samples=None):
    """All correlation functions of ``wavefunction``: Z, ZZ, connected ZZ, X and XX.

    Args:
      wavefunction: anything with ``log_psi(x)`` and ``sample(n, seed)``.
      n_samples: samples drawn (with the stateless ``seed``) when ``samples`` is not given.
      offdiagonal_samples: how many of them the X and XX estimators use (they cost N and
        N(N+1)/2 evaluations of psi per sample; default all, 0 skips them).
      max_distance: largest |i - j| of the pair correlations (default N - 1).
      samples: use these samples [n, N] instead of drawing.
    Returns a :class:`Correlations`.
    """
    if samples is None:
        samples = draw_samples(wavefunction, _check_count("n_samples", n_samples), seed)
    samples = _check_samples(samples)
    offdiagonal = len(samples) if offdiagonal_samples is None else offdiagonal_samples
    offdiagonal = min(_check_count("offdiagonal_samples", offdiagonal, minimum=0), len(samples))
    result = Correlations(
        magnetization_z=magnetization_z(samples),
        zz=zz_correlations(samples, max_distance=max_distance, batch_size=batch_size),
        zz_connected=zz_correlations(samples, connected=True, max_distance=max_distance,
                                     batch_size=batch_size))
    if offdiagonal == 0:
        return result
    subset = samples[:offdiagonal]
    options = dict(batch_size=batch_size, verbose=verbose)
    return dataclasses.replace(
        result, magnetization_x=magnetization_x(wavefunction, subset, **options),
        xx=xx_correlations(wavefunction, subset, max_distance=max_distance, **options))


__all__ = ["Correlations", "PairCorrelation", "correlations", "energy", "flip_ratios",
           "magnetization_x", "magnetization_z", "xx_correlations", "zz_correlations"]
