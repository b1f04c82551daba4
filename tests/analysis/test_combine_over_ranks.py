"""Estimates combined over ranks (tfqsr.analysis.statistics.combine_*) equal those of one process
holding every rank's samples: ranks are threads here, exchanging through the two collectives
the combination uses (``allreduce_mean``, ``size``)."""
import threading

import numpy as np
import pytest

from tfqsr.analysis.statistics import (combine_energy, combine_estimates, combine_means,
                                       mean_estimate, rank_share)
from tfqsr.vmc.estimators import energy_statistics

SHARES = (37, 63, 1)  # unequal, and a rank with a single sample (no error of its own)


class _ThreadRank:
    """Rank ``rank`` of ``len(slots)`` threads that meet at ``barrier``."""

    def __init__(self, rank, slots, barrier):
        self.rank, self.size, self._slots, self._barrier = rank, len(slots), slots, barrier

    def allreduce_mean(self, tensors):
        self._slots[self.rank] = [np.asarray(t, np.float64) for t in tensors]
        self._barrier.wait()
        means = [np.mean([slot[i] for slot in self._slots], axis=0) for i in range(len(tensors))]
        self._barrier.wait()  # every rank has read the slots before they are reused
        return means


def _on_ranks(fn, parts):
    """[fn(rank, part) for each rank], the ranks running concurrently as threads."""
    slots, barrier, results = [None] * len(parts), threading.Barrier(len(parts)), [None] * len(parts)

    def target(rank):
        results[rank] = fn(_ThreadRank(rank, slots, barrier), parts[rank])

    threads = [threading.Thread(target=target, args=(r,)) for r in range(len(parts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _split(values):
    return np.split(values, np.cumsum(SHARES)[:-1])


def test_combined_mean_and_error_equal_those_of_all_samples():
    values = 1e3 + np.random.default_rng(0).normal(size=(sum(SHARES), 4, 2))  # large mean: stability
    results = _on_ranks(lambda rank, part: combine_estimates(mean_estimate(part), len(part), rank),
                        _split(values))
    expected = mean_estimate(values)
    for result in results:  # every rank gets the same, exact result
        np.testing.assert_allclose(result.value, expected.value, rtol=1e-13)
        np.testing.assert_allclose(result.error, expected.error, rtol=1e-9)


def test_nan_entries_stay_nan():
    values = np.random.default_rng(1).normal(size=(sum(SHARES), 3))
    values[:, 1] = np.nan  # e.g. pairs beyond --max_distance
    result = _on_ranks(lambda rank, part: combine_estimates(mean_estimate(part), len(part), rank),
                       _split(values))[0]
    assert np.isnan(result.value[1]) and np.isfinite(result.value[[0, 2]]).all()


def test_combined_energy_equals_the_statistics_of_all_local_energies():
    rng = np.random.default_rng(2)
    e_loc = -20.0 + rng.normal(size=sum(SHARES)) + 0.1j * rng.normal(size=sum(SHARES))

    def combine(rank, part):
        return combine_energy(*(float(v) for v in energy_statistics(part)), len(part), rank)

    expected = [float(v) for v in energy_statistics(e_loc)]
    for result in _on_ranks(combine, _split(e_loc)):
        np.testing.assert_allclose(result, expected, rtol=1e-12)


def test_combined_mean_of_per_sample_matrices():
    values = np.random.default_rng(3).uniform(size=(sum(SHARES), 3, 3))
    results = _on_ranks(lambda rank, part: combine_means(part.mean(axis=0), len(part), rank), _split(values))
    np.testing.assert_allclose(results[2], values.mean(axis=0), rtol=1e-13)


@pytest.mark.parametrize("total,size,expected", [(10, 2, [5, 5]), (11, 3, [4, 4, 3]), (2, 3, [1, 1, 0])])
def test_rank_share_splits_as_evenly_as_possible(total, size, expected):
    class Rank:
        def __init__(self, rank):
            self.rank, self.size = rank, size
    assert [rank_share(total, Rank(r)) for r in range(size)] == expected
