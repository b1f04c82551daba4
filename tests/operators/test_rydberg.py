"""The Rydberg Hamiltonian against independent Kronecker products, dense diagonalization, the
published QMC energy and (H psi)/psi of a model on every configuration."""
import itertools
import re

import numpy as np
import pytest
import tensorflow as tf

from tests.operators.pauli_reference import PAULI, pauli_string
from tfqsr import exact, hilbert, validation
from tfqsr.operators import Rydberg
from tfqsr.operators.rydberg import QMC_ENERGY_PER_ATOM
from tfqsr.wavefunctions import TransformerWavefunction

N_EXCITED = np.diag([0.0, 1.0])  # n = (1 - Z) / 2: x = 1 is the excited atom


def rydberg_reference(lx, ly, V, omega, delta):
    """H from Kronecker products, every pair by its coordinates (no shared code with tfqsr)."""
    n = lx * ly
    sites = [(a, b) for a in range(lx) for b in range(ly)]

    def n_op(*which):
        ops = [N_EXCITED if i in which else np.eye(2) for i in range(n)]
        out = ops[0]
        for op in ops[1:]:
            out = np.kron(out, op)
        return out

    h = np.zeros((2**n, 2**n))
    for i, j in itertools.combinations(range(n), 2):
        r = np.hypot(sites[i][0] - sites[j][0], sites[i][1] - sites[j][1])
        h += V / r**6 * n_op(i, j)
    for i in range(n):
        h -= delta * n_op(i)
        h -= omega / 2 * pauli_string(n, {i: "X"}).real
    return h


@pytest.mark.parametrize("shape,parameters", [((2, 2), (7.0, 1.0, 1.0)), ((3, 3), (7.0, 1.0, 1.0)),
                                              ((2, 3), (3.3, -0.7, 0.4))])
def test_to_dense_equals_kronecker_products(shape, parameters):
    op = Rydberg(*shape, *parameters)
    np.testing.assert_allclose(op.to_dense(), rydberg_reference(*shape, *parameters), atol=1e-12)


def test_ground_state_equals_dense_diagonalization_3x3():
    energy, psi = exact.ground_state(Rydberg(3, 3))
    dense = rydberg_reference(3, 3, 7.0, 1.0, 1.0)
    values, vectors = np.linalg.eigh(dense)
    assert energy == pytest.approx(values[0], abs=1e-10)
    assert abs(np.dot(psi, vectors[:, 0])) == pytest.approx(1.0, abs=1e-8)
    assert exact.reference_energy_per_atom(Rydberg(3, 3)) == (pytest.approx(values[0] / 9, abs=1e-12), 0.0, "exact")


def test_changed_sites_and_flip_masks_match_connected():
    op = Rydberg(2, 3)
    x = hilbert.all_configurations(6)
    x_conn, mels = op.connected(tf.constant(x))
    changed = x_conn.numpy() != x[:, None, :]
    for m, sites in enumerate(op.changed_sites):
        assert set(np.flatnonzero(changed[:, m].any(axis=0))) == set(sites)
    np.testing.assert_array_equal(x_conn.numpy(), x[:, None, :] ^ op.flip_masks[None])
    np.testing.assert_array_equal(mels.numpy()[:, 1:], -0.5)


def test_no_drive_has_only_the_diagonal():
    op = Rydberg(2, 2, omega=0.0)
    assert op.max_conn == 1 and op.changed_sites == ((),)


def test_local_energies_equal_h_psi_over_psi_on_all_configurations():
    """A transformer over 1x3 patches: flips of the same row share a token (prefix reuse)."""
    tf.keras.utils.set_random_seed(3)
    model = TransformerWavefunction(9, layout=hilbert.PatchLayout((3, 3), (1, 3)), num_layers=1,
                                    num_heads=2, d_model=8)
    op = Rydberg(3, 3)
    x = hilbert.all_configurations(9)
    psi = np.exp(model.log_psi(tf.constant(x)).numpy().astype(np.float64))
    expected = op.to_dense() @ psi / psi
    np.testing.assert_allclose(op.local_energy(model, tf.constant(x)).numpy(), expected, rtol=2e-5, atol=2e-5)


def test_qmc_references_only_for_the_published_parameters():
    assert Rydberg(8, 8).qmc_energy_per_atom() == (-0.4058, 5e-4)
    assert Rydberg(16, 16).qmc_energy_per_atom() == QMC_ENERGY_PER_ATOM[(16, 16)]
    assert Rydberg(8, 8, V=6.0).qmc_energy_per_atom() is None
    assert Rydberg(5, 5).qmc_energy_per_atom() is None
    assert exact.reference_energy_per_atom(Rydberg(8, 8)) == (-0.4058, 5e-4, "qmc")


@pytest.mark.slow
def test_exact_4x4_agrees_with_qmc():
    energy, error, source = exact.reference_energy_per_atom(Rydberg(4, 4))
    assert source == "exact" and abs(energy - QMC_ENERGY_PER_ATOM[(4, 4)][0]) < 3 * QMC_ENERGY_PER_ATOM[(4, 4)][1]


@pytest.mark.parametrize("arguments,named", [((0, 3), "Lx"), ((3, 2.5), "Ly"), ((1, 1), "Lx * Ly"),
                                             ((2, 2, float("nan")), "V")])
def test_bad_arguments_name_the_argument(arguments, named):
    with pytest.raises(validation.ConfigError, match=re.escape(named)):
        Rydberg(*arguments)
