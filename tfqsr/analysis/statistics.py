"""Monte Carlo means with standard errors, and the chunked evaluation every estimator uses.

The samples of an autoregressive wavefunction are exact and independent, so the standard error
of a sample mean of per-sample values f_k, k = 1..n, is

    SE = sqrt(s^2 / n),    s^2 = sum_k (f_k - mean)^2 / (n - 1)

with no autocorrelation correction. A nonlinear function g of a mean gets the delta-method
error |g'(mean)| SE.

Across ranks (``tfqsr.runtime.distributed``), each holding its own samples, estimates combine
exactly: every rank contributes (count, mean, sum of squared deviations) of its samples, and the
sums over ranks give those of the union (Chan et al.'s pairwise update written as allreduced
sums), so the combined mean and standard error equal those of one process holding all the
samples, up to round-off.
"""
import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from tfqsr.validation import is_integer


def json_values(array):
    """A float array as nested lists, with NaN and infinities as None (JSON has neither)."""
    def clean(value):
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value if math.isfinite(value) else None
    return clean(np.asarray(array, dtype=np.float64).tolist())


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: ``value`` and its standard ``error`` (numpy arrays of one shape)."""
    value: np.ndarray
    error: np.ndarray

    def to_json(self):
        return {"value": json_values(self.value), "error": json_values(self.error)}


class MeanAccumulator:
    """Running mean and standard error over the first axis of chunks of per-sample values.

    Chunks are merged with Chan et al.'s pairwise update of (count, mean, sum of squared
    deviations), which stays accurate when the mean is large compared to the spread.
    """

    def __init__(self):
        self.count = 0
        self.mean = 0.0
        self.squares = 0.0

    def add(self, values):
        values = np.asarray(values, dtype=np.float64)
        count = values.shape[0]
        if count == 0:
            return
        mean = values.mean(axis=0)
        squares = ((values - mean) ** 2).sum(axis=0)
        total = self.count + count
        delta = mean - self.mean
        self.squares = self.squares + squares + delta**2 * (self.count * count / total)
        self.mean = self.mean + delta * (count / total)
        self.count = total

    def result(self):
        """The :class:`Estimate` of the mean (error NaN with fewer than two samples)."""
        if self.count < 2:
            return Estimate(np.asarray(self.mean, np.float64), np.full(np.shape(self.mean), np.nan))
        variance = self.squares / (self.count - 1)
        return Estimate(np.asarray(self.mean, np.float64), np.sqrt(variance / self.count))


def mean_estimate(values):
    """:class:`Estimate` of the mean over axis 0 of per-sample ``values`` [n, ...]."""
    accumulator = MeanAccumulator()
    accumulator.add(values)
    return accumulator.result()


def map_batches(fn, inputs, batch_size, *, verbose=0, unit_name="sample"):
    """Yield ``fn(*chunk)`` as numpy for consecutive chunks of ``batch_size`` rows of ``inputs``.

    ``inputs`` are arrays or tensors sharing their first axis. The last chunk is padded by
    repeating its last row, so ``fn`` (typically a ``tf.function``) always sees one shape and is
    traced once; the padding rows are cut from its result. ``verbose=1`` shows a progress bar.
    """
    inputs = [tf.convert_to_tensor(a) for a in inputs]
    total = int(inputs[0].shape[0])
    batch_size = max(1, min(batch_size, total))
    progress = keras.utils.Progbar(total, unit_name=unit_name) if verbose else None
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        rows = tf.minimum(tf.range(start, start + batch_size), total - 1)
        outputs = fn(*[tf.gather(a, rows) for a in inputs])
        yield tf.nest.map_structure(lambda t: np.asarray(t)[: stop - start], outputs)
        if progress is not None:
            progress.update(stop)


def real_ratio(delta_log_psi):
    """``Re exp(delta)`` in double precision: the real part of psi(x') / psi(x) from the
    difference ``log psi(x') - log psi(x)`` (real or complex)."""
    double = tf.complex128 if delta_log_psi.dtype.is_complex else tf.float64
    return tf.math.real(tf.exp(tf.cast(delta_log_psi, double)))


# Samples per call of the sampler: its key/value cache then stays in the CPU caches (at N = 100
# on one core: 950 samples/s in batches of 256 against 450 in batches of 4096).
SAMPLE_BATCH_SIZE = 256


def draw_samples(wavefunction, n_samples, seed, *, batch_size=SAMPLE_BATCH_SIZE, verbose=0):
    """``n_samples`` exact samples [n, N] (numpy int32) drawn in batches of ``batch_size``,
    batch k with the stateless seed of stream k of ``seed`` (see ``stateless_seed``). Every call
    draws a full batch (the last one is cut), so the compiled sampler sees one shape."""
    batch_size = min(batch_size, n_samples)
    progress = keras.utils.Progbar(n_samples, unit_name="sample") if verbose else None
    batches = []
    for k, start in enumerate(range(0, n_samples, batch_size)):
        count = min(batch_size, n_samples - start)
        batch = np.asarray(wavefunction.sample(batch_size, stateless_seed(seed, k)), np.int32)
        batches.append(batch[:count])
        if progress is not None:
            progress.update(start + count)
    return np.concatenate(batches)


def stateless_seed(seed, stream=0):
    """The stateless seed (int32 [2]) of random stream ``stream`` of ``seed``: [seed, stream] for
    an integer, ``seed`` folded with ``stream`` for a stateless seed [2] (e.g. a rank's own
    stream, ``Distributed.fold_rank``)."""
    if is_integer(seed):
        return tf.constant([int(seed), int(stream)], tf.int32)
    return tf.cast(tf.random.experimental.stateless_fold_in(seed, int(stream)), tf.int32)


def rank_share(total, distributed):
    """How many of ``total`` items this rank takes when they are split as evenly as possible
    over the ranks (the first ``total % size`` ranks take one more)."""
    base, extra = divmod(int(total), distributed.size)
    return base + (distributed.rank < extra)


def _sums_over_ranks(arrays, distributed):
    """Elementwise sums over ranks of float64 arrays, in one grouped allreduce."""
    means = distributed.allreduce_mean([np.asarray(a, np.float64) for a in arrays])
    return [np.asarray(m, np.float64) * distributed.size for m in means]


def _mean_over_ranks(value, count, distributed):
    """(count, mean) over all ranks' samples from this rank's mean ``value`` of ``count``."""
    total, weighted = _sums_over_ranks([count, count * np.asarray(value, np.float64)], distributed)
    return total, weighted / total


def _merge_moments(count, mean, squares, distributed):
    """(count, mean, sum of squared deviations) of all ranks' samples from this rank's."""
    total, mean_all = _mean_over_ranks(mean, count, distributed)
    squares_all, = _sums_over_ranks([squares + count * (mean - mean_all) ** 2], distributed)
    return total, mean_all, squares_all


def combine_means(value, count, distributed):
    """The mean over all ranks' samples of a per-sample quantity, from this rank's mean
    ``value`` of ``count`` samples. Every rank calls it and gets the result; the identity in one
    process (as the functions below)."""
    return value if distributed.size == 1 else _mean_over_ranks(value, count, distributed)[1]


def combine_estimates(estimate, count, distributed):
    """The :class:`Estimate` of the mean over all ranks' samples, from this rank's
    ``estimate`` of the mean of its ``count`` samples (exact: module docstring)."""
    if distributed.size == 1:
        return estimate
    with np.errstate(invalid="ignore"):  # the error of fewer than two samples is NaN
        squares = np.where(count > 1, estimate.error**2 * count * (count - 1), 0.0)
    total, mean, squares = _merge_moments(count, estimate.value, squares, distributed)
    return Estimate(mean, np.sqrt(squares / (total - 1) / total))


def combine_energy(energy, error, variance, count, distributed):
    """``(energy, standard error, variance)`` over all ranks' local energies (the statistics of
    ``tfqsr.vmc.estimators.energy_statistics``) from those of this rank's ``count``."""
    if distributed.size == 1:
        return energy, error, variance
    total, mean, squares = _merge_moments(count, energy, variance * count, distributed)
    variance = squares / total
    return float(mean), float(np.sqrt(variance / total)), float(variance)
