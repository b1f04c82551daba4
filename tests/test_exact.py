"""Exact diagonalization, closed forms and state-vector observables of tfqsr.exact."""
import numpy as np
import pytest

from tests.operators.pauli_reference import pauli_string
from tfqsr import exact, hilbert
from tfqsr.operators import HaldaneShastry, Heisenberg, ModifiedHaldaneShastry, TransverseFieldIsing


def random_state(n_sites, seed=0, complex_=True):
    rng = np.random.default_rng(seed)
    psi = rng.standard_normal(2**n_sites)
    if complex_:
        psi = psi + 1j * rng.standard_normal(2**n_sites)
    return psi


# ---------------------------------------------------------------- closed forms against ED


@pytest.mark.parametrize("h", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("n_sites", [3, 4, 7, 8, 10])
@pytest.mark.parametrize("pbc", [False, True])
def test_tfim_closed_form_equals_ed(n_sites, h, pbc):
    op = TransverseFieldIsing(n_sites, h=h, J=1.0, pbc=pbc)
    ed = exact.ground_state_energy(op)
    assert exact.tfim_ground_state_energy(n_sites, h=h, J=1.0, pbc=pbc) == pytest.approx(ed, abs=1e-8)


@pytest.mark.parametrize("h,J", [(-0.5, 1.0), (0.5, -1.0), (-2.0, -1.0), (1.0, -1.0), (0.0, 1.0), (1.0, 0.0)])
@pytest.mark.parametrize("n_sites", [5, 6, 9])
@pytest.mark.parametrize("pbc", [False, True])
def test_tfim_closed_form_with_negative_or_zero_couplings(n_sites, h, J, pbc):
    op = TransverseFieldIsing(n_sites, h=h, J=J, pbc=pbc)
    ed = exact.ground_state_energy(op)
    assert exact.tfim_ground_state_energy(n_sites, h=h, J=J, pbc=pbc) == pytest.approx(ed, abs=1e-8)


def test_tfim_periodic_odd_frustrated_ring_needs_parity_correction():
    # For odd N and J < 0 the antiperiodic-momentum formula alone is not the ground energy.
    n, h, J = 5, 0.5, -1.0
    k = np.pi * (2 * np.arange(n) + 1) / n
    naive = -np.sqrt(J**2 + h**2 - 2 * J * h * np.cos(k)).sum()
    ed = exact.ground_state_energy(TransverseFieldIsing(n, h=h, J=J, pbc=True))
    assert abs(naive - ed) > 1e-3
    assert exact.tfim_ground_state_energy(n, h=h, J=J, pbc=True) == pytest.approx(ed, abs=1e-10)


def test_tfim_two_site_periodic_equals_open():
    assert exact.tfim_ground_state_energy(2, h=0.7, pbc=True) == pytest.approx(-np.sqrt(1 + 4 * 0.49))


@pytest.mark.parametrize("n_sites", [6, 8, 10])
def test_haldane_shastry_closed_form_equals_full_space_ed(n_sites):
    ed = exact.ground_state_energy(HaldaneShastry(n_sites), n_down=None)
    assert exact.haldane_shastry_ground_state_energy(n_sites) == pytest.approx(ed, abs=1e-8)


def test_haldane_shastry_closed_form_equals_sector_ed_at_14_sites():
    ed = exact.ground_state_energy(HaldaneShastry(14), n_down=7)
    assert exact.haldane_shastry_ground_state_energy(14) == pytest.approx(ed, abs=1e-8)


@pytest.mark.parametrize("n_sites", [6, 8, 10, 12])
def test_modified_haldane_shastry_ground_state_lies_in_zero_magnetization_sector(n_sites):
    op = ModifiedHaldaneShastry(n_sites)
    full = exact.ground_state_energy(op, n_down=None)
    assert exact.ground_state_energy(op, n_down=n_sites // 2) == pytest.approx(full, abs=1e-9)


def test_auto_sector_above_14_sites():
    energy, psi = exact.ground_state(HaldaneShastry(16))
    assert energy == pytest.approx(exact.haldane_shastry_ground_state_energy(16), abs=1e-8)
    outside = np.ones(2**16, bool)
    outside[hilbert.sector_indices(16, 8)] = False
    assert np.all(psi[outside] == 0)


# ---------------------------------------------------------------- ground_state


@pytest.mark.parametrize(
    "op,n_down",
    [(TransverseFieldIsing(6, h=0.8), None), (TransverseFieldIsing(9, pbc=True), None), (Heisenberg(10), 5)],
    ids=["dense", "lanczos", "sector"],
)
def test_ground_state_is_normalized_eigenvector_of_full_matrix(op, n_down):
    energy, psi = exact.ground_state(op, n_down=n_down)
    assert psi.shape == (2**op.n_sites,)
    assert np.linalg.norm(psi) == pytest.approx(1.0)
    np.testing.assert_allclose(op.to_sparse() @ psi, energy * psi, atol=1e-8)
    assert energy == pytest.approx(np.linalg.eigvalsh(op.to_dense())[0], abs=1e-9)


def test_ground_state_of_diagonal_operator():
    energy, psi = exact.ground_state(TransverseFieldIsing(9, h=0.0, J=1.0, pbc=True))
    assert energy == -9.0
    assert psi[0] == 1.0  # all up (ties broken by the lowest index)


def test_ground_state_rejects_more_than_20_sites():
    with pytest.raises(ValueError, match="n_sites <= 20"):
        exact.ground_state(TransverseFieldIsing(21))


def test_ground_state_rejects_sector_of_non_conserving_operator():
    with pytest.raises(ValueError, match="conserves magnetization"):
        exact.ground_state(TransverseFieldIsing(4), n_down=2)


def test_ground_state_rejects_non_operator():
    with pytest.raises(ValueError, match="Operator"):
        exact.ground_state(np.eye(4))


# ---------------------------------------------------------------- exact_energy


def test_exact_energy_uses_closed_forms_and_ed():
    assert exact.exact_energy(TransverseFieldIsing(30, h=0.5, pbc=True)) == pytest.approx(
        exact.tfim_ground_state_energy(30, h=0.5, pbc=True)
    )
    assert exact.exact_energy(HaldaneShastry(40)) == exact.haldane_shastry_ground_state_energy(40)
    square = TransverseFieldIsing(6, shape=(2, 3))
    assert exact.exact_energy(square) == pytest.approx(np.linalg.eigvalsh(square.to_dense())[0])
    odd = HaldaneShastry(7)
    assert exact.exact_energy(odd) == pytest.approx(np.linalg.eigvalsh(odd.to_dense())[0])
    assert exact.exact_energy(Heisenberg(22)) is None


@pytest.mark.parametrize("n_sites", [1, 2.0])
def test_closed_forms_reject_bad_sizes(n_sites):
    with pytest.raises(ValueError, match="n_sites"):
        exact.tfim_ground_state_energy(n_sites)
    with pytest.raises(ValueError, match="n_sites"):
        exact.haldane_shastry_ground_state_energy(n_sites)


def test_haldane_shastry_closed_form_rejects_odd_n():
    with pytest.raises(ValueError, match="even"):
        exact.haldane_shastry_ground_state_energy(7)


# ---------------------------------------------------------------- observables


def test_expectation_of_operator_sparse_and_dense_agree():
    op = Heisenberg(6)
    psi = random_state(6)
    reference = (np.vdot(psi, op.to_dense() @ psi) / np.vdot(psi, psi)).real
    for form in (op, op.to_sparse(), op.to_dense()):
        assert exact.expectation(form, psi) == pytest.approx(reference)


def test_expectation_rejects_non_hermitian():
    with pytest.raises(ValueError, match="not Hermitian"):
        exact.expectation(np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([1.0, 1j]))


def test_expectation_rejects_mismatched_state():
    with pytest.raises(ValueError, match="does not match"):
        exact.expectation(Heisenberg(4), np.ones(8))


def kron_expectation(psi, n_sites, ops):
    psi = psi / np.linalg.norm(psi)
    return np.vdot(psi, pauli_string(n_sites, ops) @ psi).real


def test_correlations_and_magnetizations_against_kron():
    n = 5
    psi = random_state(n, seed=3)
    zz, xx = exact.correlations_zz(psi, n), exact.correlations_xx(psi, n)
    z, x = exact.magnetization_z(psi, n), exact.magnetization_x(psi, n)
    assert zz.shape == xx.shape == (n, n) and z.shape == x.shape == (n,)
    for i in range(n):
        assert z[i] == pytest.approx(kron_expectation(psi, n, {i: "Z"}))
        assert x[i] == pytest.approx(kron_expectation(psi, n, {i: "X"}))
        assert zz[i, i] == xx[i, i] == 1.0
        for j in range(n):
            if i != j:
                assert zz[i, j] == pytest.approx(kron_expectation(psi, n, {i: "Z", j: "Z"}))
                assert xx[i, j] == pytest.approx(kron_expectation(psi, n, {i: "X", j: "X"}))


def test_magnetization_sign_convention_on_basis_state():
    psi = np.zeros(8)
    psi[hilbert.configurations_to_indices([0, 1, 0])] = 2.0  # unnormalized on purpose
    np.testing.assert_allclose(exact.magnetization_z(psi, 3), [1, -1, 1])
    np.testing.assert_allclose(exact.correlations_zz(psi, 3)[0, 1], -1)


def test_reduced_density_matrix_against_explicit_partial_trace():
    n = 5
    psi = random_state(n, seed=1)
    t = (psi / np.linalg.norm(psi)).reshape((2,) * n)
    # Sites (3, 1) in that order: site 3 is the most significant bit of rho's index.
    expected = np.einsum("adbec,afbgc->edgf", t, t.conj()).reshape(4, 4)
    rho = exact.reduced_density_matrix(psi, n, [3, 1])
    np.testing.assert_allclose(rho, expected, atol=1e-12)
    np.testing.assert_allclose(rho, rho.conj().T, atol=1e-12)
    assert np.trace(rho).real == pytest.approx(1.0)


def test_product_state_has_zero_renyi_entropy():
    up, plus = np.array([1.0, 0.0]), np.array([1.0, 1.0]) / np.sqrt(2)
    psi = np.kron(np.kron(up, plus), np.kron(plus, up))
    for sites in ([0], [1, 2], [0, 3]):
        assert exact.renyi_entropy_exact(psi, 4, sites, n=2) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_bell_pair_has_entropy_log_2(n):
    # (|00> + |11>)/sqrt(2) on sites 1 and 3 of 5, other sites up.
    psi = np.zeros(2**5)
    psi[hilbert.configurations_to_indices([[0, 0, 0, 0, 0], [0, 1, 0, 1, 0]])] = 1 / np.sqrt(2)
    assert exact.renyi_entropy_exact(psi, 5, [1], n=n) == pytest.approx(np.log(2))
    assert exact.renyi_entropy_exact(psi, 5, [3, 4], n=n) == pytest.approx(np.log(2))
    assert exact.renyi_entropy_exact(psi, 5, [1, 3], n=n) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n", [2, 3])
def test_renyi_entropy_of_region_equals_that_of_complement(n):
    psi = random_state(7, seed=2)
    region, complement = [0, 2, 5], [1, 3, 4, 6]
    s_a = exact.renyi_entropy_exact(psi, 7, region, n=n)
    assert s_a > 0.1
    assert s_a == pytest.approx(exact.renyi_entropy_exact(psi, 7, complement, n=n), abs=1e-10)


def test_renyi_entropy_matches_reduced_density_matrix():
    psi = random_state(6, seed=4)
    rho = exact.reduced_density_matrix(psi, 6, [4, 0])
    expected = -np.log(np.trace(rho @ rho).real)
    assert exact.renyi_entropy_exact(psi, 6, [4, 0]) == pytest.approx(expected)


@pytest.mark.parametrize("n", [1, 0, 2.5, 2.0, True])
def test_renyi_entropy_rejects_bad_order(n):
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        exact.renyi_entropy_exact(random_state(3), 3, [0], n=n)


@pytest.mark.parametrize(
    "sites,message", [([], "empty"), ([3], r"\[0, n_sites=3\)"), ([-1], r"\[0, n_sites=3\)"), ([0, 0], "repeat")]
)
def test_subsystem_rejects_bad_sites(sites, message):
    with pytest.raises(ValueError, match=message):
        exact.renyi_entropy_exact(random_state(3), 3, sites)
    with pytest.raises(ValueError, match=message):
        exact.reduced_density_matrix(random_state(3), 3, sites)


def test_observables_reject_zero_state():
    with pytest.raises(ValueError, match="zero"):
        exact.magnetization_z(np.zeros(8), 3)


# --- open TFIM chain from free fermions, against ED through the same operators --------------

@pytest.mark.parametrize("n_sites,h,J",
                         [(8, 1.0, 1.0), (7, 0.5, 1.0), (8, 2.0, -0.7), (6, -1.3, 0.4), (9, 1.0, 1.0)])
def test_tfim_open_chain_free_fermions_equal_ed(n_sites, h, J):
    psi = exact.ground_state(TransverseFieldIsing(n_sites, h=h, J=J))[1]
    free = exact.tfim_open_chain_correlations(n_sites, h=h, J=J)
    np.testing.assert_allclose(free["magnetization_z"], exact.magnetization_z(psi, n_sites), atol=1e-10)
    np.testing.assert_allclose(free["magnetization_x"], exact.magnetization_x(psi, n_sites), atol=1e-10)
    np.testing.assert_allclose(free["zz"], exact.correlations_zz(psi, n_sites), atol=1e-10)
    np.testing.assert_allclose(free["xx"], exact.correlations_xx(psi, n_sites), atol=1e-10)
    for n in (2, 3):
        np.testing.assert_allclose(
            exact.tfim_open_chain_renyi_entropies(n_sites, n, h=h, J=J),
            [exact.renyi_entropy_exact(psi, n_sites, range(l), n) for l in range(1, n_sites)], atol=1e-10)


def test_tfim_open_chain_rejects_a_degenerate_ground_state():
    with pytest.raises(ValueError, match="degenerate"):  # h = 0: the two ferromagnetic states
        exact.tfim_open_chain_correlations(6, h=0.0, J=1.0)


@pytest.mark.parametrize("n", [1, 2.5])
def test_tfim_open_chain_entropy_rejects_bad_order(n):
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        exact.tfim_open_chain_renyi_entropies(6, n)
