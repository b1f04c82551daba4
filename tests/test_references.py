"""The shared test references (tests/references.py) on states known exactly."""
import numpy as np
import pytest

from tests.analysis.states import TabulatedWavefunction
from tests.references import exact_probabilities, exact_state, exact_variational_energy, sampler_p_value
from tfqsr import exact
from tfqsr.operators import HaldaneShastry, TransverseFieldIsing


def random_psi(n_sites, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=2**n_sites) + 1j * rng.normal(size=2**n_sites)


@pytest.mark.parametrize("op", [TransverseFieldIsing(6, h=0.8), HaldaneShastry(6)], ids=["tfim", "hs"])
def test_variational_energy_of_the_ground_state_is_the_ground_energy(op):
    """A table of log psi in single precision: relative error of psi ~1e-7, of E second order."""
    e0, psi = exact.ground_state(op)
    assert exact_variational_energy(TabulatedWavefunction(psi), op) == pytest.approx(e0, abs=1e-6)
    assert exact_variational_energy(TabulatedWavefunction(random_psi(6, 0)), op) > e0 + 0.1


def test_state_and_probabilities_of_a_table():
    psi = random_psi(5, 1)
    model = TabulatedWavefunction(psi)
    overlap = np.vdot(psi / np.linalg.norm(psi), exact_state(model))
    assert abs(overlap) == pytest.approx(1.0, abs=1e-6) and overlap.real > 0.999999
    np.testing.assert_allclose(exact_probabilities(model), np.abs(psi) ** 2 / np.sum(np.abs(psi) ** 2),
                               rtol=1e-5)


def test_exact_samples_pass_and_samples_of_another_state_fail():
    """6 spins, 20,000 samples: many configurations are rare and pooled. A correct sampler
    fails with probability 1e-4 (the seed is fixed, so the outcome is too)."""
    psi, other = random_psi(6, 2), random_psi(6, 3)
    probabilities = np.abs(psi) ** 2
    samples = TabulatedWavefunction(psi).sample(20_000, [0, 1]).numpy()
    assert sampler_p_value(samples, probabilities) > 1e-4
    assert sampler_p_value(TabulatedWavefunction(other).sample(20_000, [0, 1]).numpy(), probabilities) < 1e-6


def test_a_sample_of_probability_zero_gives_p_value_zero():
    probabilities = np.array([0.5, 0.5, 0.0, 0.0])
    assert sampler_p_value(np.array([[0, 0]] * 50 + [[0, 1]] * 49 + [[1, 1]]), probabilities) == 0.0
    assert sampler_p_value(np.array([[0, 0]] * 50 + [[0, 1]] * 50), probabilities) == 1.0


def test_samples_and_probabilities_must_match():
    with pytest.raises(ValueError, match=r"must be \[n, N\] and \[2\^N\]"):
        sampler_p_value(np.zeros((10, 3), np.int32), np.full(4, 0.25))
