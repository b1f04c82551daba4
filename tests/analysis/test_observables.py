"""Correlation and entropy estimators against exact values of states known exactly: random
transformers enumerated over all configurations, ED ground states, a Bell pair and product
states. Tolerance: 4 standard errors (fixed seeds, so the outcome is deterministic)."""
import keras
import numpy as np
import pytest

from tfqsr import analysis, exact
from tfqsr.analysis.entropy import region_mask
from tfqsr.operators import HaldaneShastry, ModifiedHaldaneShastry, TransverseFieldIsing
from tfqsr.wavefunctions import TransformerWavefunction
from tests.analysis.states import TabulatedWavefunction, bell_pair, product_state
from tests.references import exact_state

K_SIGMA = 4


def assert_within(estimate, expected, k=K_SIGMA, atol=1e-6):
    value, error = np.asarray(estimate.value), np.asarray(estimate.error)
    expected = np.asarray(expected)
    finite = np.isfinite(value)
    deviation = np.abs(value[finite] - expected[finite])
    assert np.all(deviation <= k * error[finite] + atol), (
        f"max deviation {np.max(deviation / (error[finite] + 1e-300)):.2f} standard errors")


def _by_distance(matrix):
    return np.array([np.mean(np.diagonal(matrix, r)) for r in range(len(matrix))])


@pytest.fixture(scope="module")
def random_transformer():
    """A random complex transformer on 8 spins and its exact state vector."""
    keras.utils.set_random_seed(5)  # weights independent of the tests run before
    model = TransformerWavefunction(8, 2, num_layers=1, num_heads=2, d_model=8, phase=True)
    return model, exact_state(model)


@pytest.fixture(scope="module", params=["tfim", "mhs", "hs"])
def ground_state(request):
    """ED ground states: TFIM N=8 (positive), modified Haldane–Shastry N=8 (positive, volume
    law) and Haldane–Shastry N=8 (Marshall signs: complex log psi with phase pi)."""
    op = {"tfim": TransverseFieldIsing(8, h=1.0), "mhs": ModifiedHaldaneShastry(8),
          "hs": HaldaneShastry(8)}[request.param]
    psi = exact.ground_state(op)[1]
    return TabulatedWavefunction(psi), psi


def check_correlations(wavefunction, psi, n_samples=3000, seed=1):
    n = wavefunction.n_sites
    measured = analysis.correlations(wavefunction, n_samples=n_samples, seed=seed)
    z, zz = exact.magnetization_z(psi, n), exact.correlations_zz(psi, n)
    assert_within(measured.magnetization_z, z)
    assert_within(measured.zz.matrix, zz)
    assert_within(measured.zz.by_distance, _by_distance(zz))
    assert_within(measured.zz_connected.matrix, zz - np.outer(z, z))
    assert_within(measured.zz_connected.by_distance, _by_distance(zz - np.outer(z, z)))
    assert_within(measured.magnetization_x, exact.magnetization_x(psi, n))
    xx = exact.correlations_xx(psi, n)
    assert_within(measured.xx.matrix, xx)
    assert_within(measured.xx.by_distance, _by_distance(xx))


def test_correlations_of_random_transformer_match_enumeration(random_transformer):
    check_correlations(*random_transformer)


def test_correlations_of_ground_states_match_ed(ground_state):
    check_correlations(*ground_state, n_samples=2000)


def test_entropy_of_every_cut_matches_exact(random_transformer):
    model, psi = random_transformer
    entropy = analysis.renyi_entropy_cuts(model, 2, n_samples=3000, seed=2)
    assert_within(entropy, [exact.renyi_entropy_exact(psi, 8, range(l), 2) for l in range(1, 8)])


def test_entropy_of_ground_state_cuts_matches_exact(ground_state):
    wavefunction, psi = ground_state
    entropy = analysis.renyi_entropy_cuts(wavefunction, 2, n_samples=3000, seed=3)
    assert_within(entropy, [exact.renyi_entropy_exact(psi, 8, range(l), 2) for l in range(1, 8)])


@pytest.mark.parametrize("n, sites", [(3, [0, 1, 2]), (2, [1, 4, 6]), (4, [7, 0])])
def test_higher_renyi_orders_and_subsets(random_transformer, n, sites):
    model, psi = random_transformer
    value, error = analysis.renyi_entropy(model, sites, n, n_samples=3000, seed=4)
    assert abs(value - exact.renyi_entropy_exact(psi, 8, sites, n)) <= K_SIGMA * error


def test_product_state_has_zero_entropy():
    value, error = analysis.renyi_entropy(TabulatedWavefunction(product_state(5)), [0, 1], 2,
                                          n_samples=200, seed=0)
    assert abs(value) < 1e-6 and error < 1e-6  # float32 log psi: rounding only


@pytest.mark.parametrize("phase", [0.0, 0.9])
def test_bell_pair_has_log2_entropy(phase):
    value, error = analysis.renyi_entropy(TabulatedWavefunction(bell_pair(phase)), [0], 2,
                                          n_samples=4000, seed=5)
    assert abs(value - np.log(2)) <= K_SIGMA * error
    assert error < 0.05


def test_entropy_of_region_equals_entropy_of_complement(random_transformer):
    model, psi = random_transformer
    a = exact.renyi_entropy_exact(psi, 8, [0, 2, 5], 2)
    assert a == pytest.approx(exact.renyi_entropy_exact(psi, 8, [1, 3, 4, 6, 7], 2))
    value, error = analysis.renyi_entropy(model, [1, 3, 4, 6, 7], 2, n_samples=3000, seed=6)
    assert abs(value - a) <= K_SIGMA * error


@pytest.mark.parametrize("n", [1, 0, 2.5, True, "2"])
def test_invalid_renyi_order_is_rejected(random_transformer, n):
    with pytest.raises(ValueError, match="Rényi index n must be an integer >= 2"):
        analysis.renyi_entropy(random_transformer[0], [0], n, n_samples=10)


@pytest.mark.parametrize("sites, message", [([], "must not be empty"), ([8], r"in \[0, n_sites=8\)"),
                                            ([-1], r"in \[0, n_sites=8\)"), ([1, 1], "must not repeat"),
                                            ([0.5], "must be integers")])
def test_invalid_region_is_rejected(sites, message):
    with pytest.raises(ValueError, match=message):
        region_mask(sites, 8)


def test_energy_of_ground_state_is_exact_with_zero_variance():
    op = TransverseFieldIsing(6, h=0.8)
    e0, psi = exact.ground_state(op)
    samples = TabulatedWavefunction(psi).sample(500, [0, 1]).numpy()
    e, error, variance = analysis.energy(TabulatedWavefunction(psi), op, samples)
    assert e == pytest.approx(e0, abs=1e-4) and variance < 1e-6


def test_max_distance_limits_the_pairs(random_transformer):
    measured = analysis.correlations(random_transformer[0], n_samples=200, max_distance=2)
    assert measured.xx.distances.tolist() == [0, 1, 2]
    assert np.isnan(measured.zz.matrix.value[0, 3]) and np.isfinite(measured.zz.matrix.value[0, 2])


@pytest.mark.parametrize("pairs_per_distance", [1, 3])
def test_sampled_xx_pairs_estimate_the_distance_curve(ground_state, pairs_per_distance):
    """Stratified random pairs: unbiased for the translation average even on the open chain,
    whose correlations depend on position."""
    wavefunction, psi = ground_state
    samples = wavefunction.sample(3000, [0, 7]).numpy()
    measured = analysis.xx_correlations(wavefunction, samples, pairs_per_distance=pairs_per_distance,
                                        seed=3)
    assert measured.matrix is None and measured.to_json()["matrix"] is None
    assert_within(measured.by_distance, _by_distance(exact.correlations_xx(psi, 8)))


@pytest.mark.parametrize("per_distance", [None, 1, 2, 5])
def test_pair_strata_cover_each_distance_once(per_distance):
    from tfqsr.analysis.observables import _pair_strata
    strata = _pair_strata(9, None, per_distance)
    np.testing.assert_allclose(strata.averaging.sum(axis=0), 1.0)
    for r in range(9):
        columns = strata.distance == r
        covered = np.concatenate([np.arange(f, f + s) for f, s in
                                  zip(strata.first[columns], strata.size[columns])])
        assert sorted(covered.tolist()) == list(range(9 - r))
    assert strata.exhaustive == (per_distance is None)
    i = strata.first_sites(np.random.default_rng(0), 100)
    assert np.all((i >= strata.first) & (i < strata.first + strata.size))


def test_tfim_energy_ratios_give_the_x_magnetization(random_transformer):
    """The TFIM's connected configurations are the single flips: <X_i> from the energy's ratios
    equals the separate estimator on the same samples."""
    from tfqsr.analysis.observables import single_flip_ratios
    model = random_transformer[0]
    samples = model.sample(300, [0, 9]).numpy()
    op = TransverseFieldIsing(8, h=0.7)
    e, _, _, ratios = analysis.energy(model, op, samples, return_ratios=True)
    assert e == pytest.approx(analysis.energy(model, op, samples)[0])
    shared = analysis.correlations(model, samples=samples, x_flip_ratios=single_flip_ratios(op, ratios))
    direct = analysis.magnetization_x(model, samples)
    np.testing.assert_allclose(shared.magnetization_x.value, direct.value, rtol=1e-5)
    np.testing.assert_allclose(shared.magnetization_x.error, direct.error, rtol=1e-4)
    assert single_flip_ratios(HaldaneShastry(8), ratios) is None
    assert single_flip_ratios(TransverseFieldIsing(8, h=0.0), ratios[:, :1]) is None
