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

``<X_i X_j>`` costs one evaluation of psi per pair and sample. With ``pairs_per_distance = K``
the distance curve is estimated from K pairs per distance and sample instead of all N - r: the
first sites 0..N-r-1 are split into K equal strata, each sample draws one first site i uniformly
in each stratum, and stratum k gets the weight (its size) / (N - r). The per-sample value is
then an unbiased estimate of C(r) whatever the position dependence (open chains), the samples
stay independent (so the standard error is exact), and each column's first changed site is
known in advance (the sites of the stratum and their partners), so autoregressive models reuse
the prefixes.
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

# Configurations per call of log psi: bounds the memory of one forward pass. About a thousand
# is also the fastest on CPU (N = 100, one core: 3,200 configurations/s against 2,800 at 4096).
DEFAULT_BATCH_SIZE = 1024


@dataclasses.dataclass(frozen=True)
class PairCorrelation:
    """A two-point function: ``matrix`` [N, N] (None when pairs were sampled, not enumerated)
    and ``by_distance`` [max_distance + 1] Estimates."""
    matrix: Estimate
    by_distance: Estimate

    @property
    def distances(self):
        return np.arange(self.by_distance.value.shape[0])

    def to_json(self):
        return {"distances": self.distances.tolist(),
                "matrix": None if self.matrix is None else self.matrix.to_json(),
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


@dataclasses.dataclass(frozen=True)
class _PairStrata:
    """Columns p of a pair estimator: pairs (i, i + r_p) with i = first_p + a draw in
    [0, size_p); ``averaging`` [P, R + 1] maps per-column values to the distance curve."""
    distance: np.ndarray
    first: np.ndarray
    size: np.ndarray
    averaging: np.ndarray

    @property
    def exhaustive(self):
        """True when every column is one fixed pair (all pairs enumerated)."""
        return bool(np.all(self.size == 1))

    def first_sites(self, rng, n_samples):
        """First sites i [n, P] of the pairs of ``n_samples`` samples."""
        return self.first + np.floor(rng.random((n_samples, len(self.size))) * self.size).astype(np.int32)

    @property
    def changed_sites(self):
        """Per column, the sites its pairs may flip: the stratum and its partners r further."""
        return tuple(tuple(sorted({*range(f, f + s), *range(f + r, f + r + s)}))
                     for r, f, s in zip(self.distance.tolist(), self.first.tolist(), self.size.tolist()))


def _pair_strata(n_sites, max_distance, pairs_per_distance=None):
    """All pairs with 0 <= r <= max_distance, or at most ``pairs_per_distance`` strata each."""
    max_distance = n_sites - 1 if max_distance is None else _check_count("max_distance", max_distance)
    max_distance = min(max_distance, n_sites - 1)
    per_distance = n_sites if pairs_per_distance is None else _check_count(
        "pairs_per_distance", pairs_per_distance)
    columns = []
    for r in range(max_distance + 1):
        for stratum in np.array_split(np.arange(n_sites - r), min(per_distance, n_sites - r)):
            columns.append((r, stratum[0], len(stratum)))
    distance, first, size = (np.array(c, np.int32) for c in zip(*columns))
    averaging = np.zeros((len(columns), max_distance + 1))
    averaging[np.arange(len(columns)), distance] = size / (n_sites - distance)
    return _PairStrata(distance, first, size, averaging)


def _pair_correlation(chunks, n_sites, strata):
    """Accumulate per-sample column values ([n, P] in chunks) into a :class:`PairCorrelation`
    (with the matrix when the columns enumerate all pairs)."""
    per_pair, per_distance = MeanAccumulator(), MeanAccumulator()
    for values in chunks:
        per_pair.add(values)
        per_distance.add(values @ strata.averaging)
    if not strata.exhaustive:
        return PairCorrelation(None, per_distance.result())
    pair_estimate = per_pair.result()
    i, j = strata.first, strata.first + strata.distance
    fields = []
    for column in (pair_estimate.value, pair_estimate.error):
        matrix = np.full((n_sites, n_sites), np.nan)
        matrix[i, j] = matrix[j, i] = column
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
    strata = _pair_strata(n_sites, max_distance)
    i, j = strata.first, strata.first + strata.distance
    rows = max(1, batch_size // len(i))
    chunks = (z[start:start + rows, i] * z[start:start + rows, j] for start in range(0, len(z), rows))
    return _pair_correlation(chunks, n_sites, strata)


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
    changed_sites = ((),) + hilbert.site_sets(flips)
    masks = tf.constant(flips)
    rows = max(1, batch_size // (flips.shape[0] + 1))
    yield from map_batches(lambda x: _flip_ratio_chunk(wavefunction, x, masks, changed_sites),
                           [samples], rows, verbose=verbose)


@tf.function(reduce_retracing=True)
def _flip_ratio_chunk(wavefunction, x, masks, changed_sites):
    """Re psi(x ^ mask_p) / psi(x) [c, P] for x [c, N] and fixed masks [P, N]."""
    return _masked_ratios(wavefunction, x, masks[None], changed_sites)


def _masked_ratios(wavefunction, x, masks, changed_sites):
    """Re psi(x ^ mask_p) / psi(x) [c, P] for x [c, N] and masks [c or 1, P, N]; entry 0 of
    ``changed_sites`` is x itself (``()``), entry p + 1 the sites mask p may flip."""
    configurations = tf.concat([x[:, None], tf.bitwise.bitwise_xor(x[:, None], masks)], axis=1)
    log_psi = connected_log_psi(wavefunction, configurations, changed_sites)
    return real_ratio(log_psi[:, 1:] - log_psi[:, :1])


def magnetization_x(wavefunction, samples, *, batch_size=DEFAULT_BATCH_SIZE, verbose=0):
    """``<X_i>`` [N] from samples [n, N] of ``wavefunction`` (N evaluations of psi per sample)."""
    samples = _check_samples(samples)
    accumulator = MeanAccumulator()
    for values in flip_ratios(wavefunction, samples, np.eye(samples.shape[1]),
                              batch_size=batch_size, verbose=verbose):
        accumulator.add(values)
    return accumulator.result()


def xx_correlations(wavefunction, samples, *, max_distance=None, pairs_per_distance=None, seed=0,
                    batch_size=DEFAULT_BATCH_SIZE, verbose=0):
    """``<X_i X_j>`` for ``|i - j| <= max_distance`` from samples [n, N] of ``wavefunction``.

    One evaluation of psi per pair and sample: all pairs (N(N+1)/2 per sample for all
    distances), or, with ``pairs_per_distance`` K, K stratified random pairs per distance (see
    the module docstring; ``seed`` draws them), which gives the distance curve but no matrix.
    Returns a :class:`PairCorrelation`.
    """
    samples = _check_samples(samples)
    n_sites = samples.shape[1]
    strata = _pair_strata(n_sites, max_distance, pairs_per_distance)
    first_sites = strata.first_sites(np.random.default_rng(seed), len(samples))
    changed_sites = ((),) + strata.changed_sites  # column 0: x itself
    rows = max(1, batch_size // (len(strata.first) + 1))
    distance = tf.constant(strata.distance)
    chunks = map_batches(
        lambda x, i: _pair_flip_ratio_chunk(wavefunction, x, i, distance, changed_sites),
        [samples, first_sites], rows, verbose=verbose)
    return _pair_correlation(chunks, n_sites, strata)


@tf.function(reduce_retracing=True)
def _pair_flip_ratio_chunk(wavefunction, x, i, distance, changed_sites):
    """Re psi(x^{i, i+r}) / psi(x) [c, P] for x [c, N], first sites i [c, P], distances r [P]
    (r = 0 flips nothing: <X_i X_i> = 1)."""
    n_sites = tf.shape(x)[1]
    masks = tf.bitwise.bitwise_xor(tf.one_hot(i, n_sites, dtype=tf.int32),
                                   tf.one_hot(i + distance, n_sites, dtype=tf.int32))
    return _masked_ratios(wavefunction, x, masks, changed_sites)


def energy(wavefunction, hamiltonian, samples, *, batch_size=DEFAULT_BATCH_SIZE, verbose=0,
           return_ratios=False):
    """``<H>`` from samples [n, N]: ``(energy, standard error, variance of E_loc)`` as floats.

    Local energies ``E_loc(x) = sum_m H[x, x'_m] psi(x'_m) / psi(x)`` come from the operator's
    ``local_energy`` (``hamiltonian.max_conn`` evaluations of psi per sample); the statistics
    are those of VMC (``tfqsr.vmc.estimators.energy_statistics``). With ``return_ratios`` the
    per-sample ``Re psi(x'_m) / psi(x)`` [n, M] are returned as well (fourth element): for an
    operator with ``flip_masks`` they are flip ratios other estimators can reuse.
    """
    samples = _check_samples(samples)
    rows = max(1, batch_size // hamiltonian.max_conn)
    chunks = list(map_batches(lambda x: _local_energy_chunk(wavefunction, hamiltonian, x), [samples],
                              rows, verbose=verbose))
    statistics = tuple(float(v) for v in energy_statistics(np.concatenate([c[0] for c in chunks])))
    return statistics + (np.concatenate([c[1] for c in chunks]),) if return_ratios else statistics


@tf.function(reduce_retracing=True)
def _local_energy_chunk(wavefunction, hamiltonian, x):
    mels, ratios = hamiltonian.connected_ratios(wavefunction, x)
    return tf.reduce_sum(tf.cast(mels, ratios.dtype) * ratios, axis=1), tf.math.real(ratios)


def single_flip_ratios(hamiltonian, ratios):
    """The columns of ``energy(..., return_ratios=True)`` that flip site 0, 1, ..., N - 1, as
    [n, N], when the operator's columns 1..N are exactly these flips (TFIM); else None."""
    masks = hamiltonian.flip_masks
    n_sites = hamiltonian.n_sites
    if masks is None or masks.shape[0] < n_sites + 1 or not np.array_equal(
            masks[1:n_sites + 1], np.eye(n_sites, dtype=masks.dtype)):
        return None
    return ratios[:, 1:n_sites + 1]


def correlations(wavefunction, *, n_samples=10000, seed=0, offdiagonal_samples=None,
                 max_distance=None, xx_pairs_per_distance=None, batch_size=DEFAULT_BATCH_SIZE,
                 verbose=0, samples=None, x_flip_ratios=None):
    """All correlation functions of ``wavefunction``: Z, ZZ, connected ZZ, X and XX.

    Args:
      wavefunction: anything with ``log_psi(x)`` and ``sample(n, seed)``.
      n_samples: samples drawn (with the stateless ``seed``) when ``samples`` is not given.
      offdiagonal_samples: how many of them the X and XX estimators use (they cost N and
        N(N+1)/2 evaluations of psi per sample; default all, 0 skips them).
      max_distance: largest |i - j| of the pair correlations (default N - 1).
      xx_pairs_per_distance: XX from this many stratified random pairs per distance and sample
        instead of all pairs (distance curve only; see ``xx_correlations``).
      samples: use these samples [n, N] instead of drawing.
      x_flip_ratios: per-sample ``Re psi(x^i) / psi(x)`` [offdiagonal, N] already computed on
        the off-diagonal samples (e.g. by the TFIM energy, ``single_flip_ratios``), for <X_i>.
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
        result, magnetization_x=magnetization_x(wavefunction, subset, **options)
        if x_flip_ratios is None else mean_estimate(x_flip_ratios),
        xx=xx_correlations(wavefunction, subset, max_distance=max_distance,
                           pairs_per_distance=xx_pairs_per_distance, seed=seed, **options))


__all__ = ["Correlations", "PairCorrelation", "correlations", "energy", "flip_ratios",
           "magnetization_x", "magnetization_z", "single_flip_ratios", "xx_correlations",
           "zz_correlations"]
