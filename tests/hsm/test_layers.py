"""The HSM layers against exact references: a 2×2 model solved by hand, finite-difference
gradients in float64 for every weight kind, Pauli strings against numpy.kron products, term
counts, Hermiticity, β → ∞ and degenerate spectra."""
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_layer_test
from tfqsr.hsm import spectral
from tfqsr.hsm.layers import FeatureWeights, GeneralHSM, PauliHSM
from tfqsr.validation import ConfigError

PAULI = [np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1, -1])]


def _hand_model(beta=None):
    """K = J = 1, d = 2, real: A = σx, B = [[2, 0.5], [0.5, -1]]."""
    layer = GeneralHSM(1, 1, 2, complex=False, beta=beta, eigh_eps=0.0)
    layer.build((None, 1))
    layer.input_diags.assign([[0.0, 0.0]])
    layer.input_trius.assign([[1.0]])
    layer.output_diags.assign([[2.0, -1.0]])
    layer.output_trius.assign([[0.5]])
    return layer


def test_two_by_two_ground_state_by_hand(float64):
    # H(x) = ½(σx − x)²: eigenvalues ½(1 − x)² on |+⟩ and ½(1 + x)² on |−⟩, so the ground state
    # is |+⟩ for x > 0 and |−⟩ for x < 0; ⟨+|B|+⟩ = (2 − 1)/2 + 0.5 = 1, ⟨−|B|−⟩ = 0.
    layer = _hand_model()
    x = np.array([[0.8], [-0.5]])
    np.testing.assert_allclose(layer(x)[:, 0], [1.0, 0.0], atol=1e-12)
    rho, energy = layer.state(x)
    np.testing.assert_allclose(energy, [0.5 * 0.2 ** 2, 0.5 * 0.5 ** 2], atol=1e-12)
    np.testing.assert_allclose(rho[0], 0.5 * np.ones((2, 2)), atol=1e-12)


def test_two_by_two_thermal_state_by_hand(float64):
    # ρ = p₊|+⟩⟨+| + p₋|−⟩⟨−|, p± ∝ exp(−β ½(1 ∓ x)²); ŷ = p₊·1 + p₋·0.
    beta, x = 2.0, 0.3
    layer = _hand_model(beta)
    energies = np.array([0.5 * (1 - x) ** 2, 0.5 * (1 + x) ** 2])
    p = np.exp(-beta * energies) / np.exp(-beta * energies).sum()
    np.testing.assert_allclose(layer(np.array([[x]]))[0, 0], p[0], rtol=1e-12)
    free_energy = -np.log(np.exp(-beta * energies).sum()) / beta
    np.testing.assert_allclose(layer.state(np.array([[x]]))[1][0], free_energy, rtol=1e-12)


def _finite_difference_check(layer, loss, h=1e-6):
    """Every element of every trainable weight: tape gradient vs central differences."""
    loss = tf.function(loss)
    with tf.GradientTape() as tape:
        value = loss()
    grads = tape.gradient(value, layer.trainable_weights)
    for weight, grad in zip(layer.trainable_weights, grads):
        base = weight.numpy()
        numeric = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            for sign in (1, -1):
                shifted = base.copy()
                shifted[index] += sign * h
                weight.assign(shifted)
                numeric[index] += sign * float(loss()) / (2 * h)
        weight.assign(base)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7, err_msg=weight.path)


LAYERS = {
    "general_real": lambda beta: GeneralHSM(2, 2, 3, complex=False, beta=beta),
    "general_complex": lambda beta: GeneralHSM(2, 2, 3, complex=True, beta=beta),
    "pauli": lambda beta: PauliHSM(2, 2, 2, input_operator_pauli_weight=1, beta=beta),
}


@pytest.mark.parametrize("beta", [None, 1.5], ids=["ground", "thermal"])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_prediction_gradients_match_finite_differences(float64, kind, beta):
    keras.utils.set_random_seed(1)
    layer = LAYERS[kind](beta)
    x = np.random.default_rng(0).normal(size=(4, 2))
    layer.build(x.shape)
    projection = np.random.default_rng(1).normal(size=(4, 2))
    _finite_difference_check(layer, lambda: tf.reduce_sum(layer(x) * projection))


@pytest.mark.parametrize("beta", [None, 1.5], ids=["ground", "thermal"])
@pytest.mark.parametrize("kind", ["general_complex", "pauli"])
def test_joint_energy_gradients_match_finite_differences(float64, kind, beta):
    keras.utils.set_random_seed(2)
    layer = LAYERS[kind](beta)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    layer.build(x.shape)
    _finite_difference_check(layer, lambda: tf.reduce_sum(layer.joint_energy(x, y)))


def test_feature_weights_gradient_matches_finite_differences(float64):
    keras.utils.set_random_seed(4)
    weights, hsm = FeatureWeights(), GeneralHSM(2, 1, 3)
    x = np.random.default_rng(5).normal(size=(3, 2))
    hsm.build(x.shape)
    weights.build(x.shape)
    weights.input_weights.assign([0.7, -1.3])
    _finite_difference_check(weights, lambda: tf.reduce_sum(hsm(weights(x)) ** 2))


@pytest.mark.parametrize("qubits,weight", [(1, 1), (2, 1), (2, 2), (3, 1), (3, 2), (3, None), (4, 2)])
def test_pauli_term_counts(qubits, weight):
    from math import comb
    w = qubits if weight is None else weight
    expected = sum(comb(qubits, j) * 3 ** j for j in range(w + 1))
    codes = spectral.pauli_strings(qubits, weight)
    assert len(codes) == spectral.pauli_term_count(qubits, weight) == expected
    assert len({tuple(c) for c in codes}) == expected
    assert np.count_nonzero(codes, axis=1).max() == w and not codes[0].any()  # identity first


def test_pauli_operators_equal_kronecker_products(float64):
    keras.utils.set_random_seed(6)
    layer = PauliHSM(2, 1, 3, input_operator_pauli_weight=2)
    layer.build((None, 2))
    inputs, outputs = layer.operators()
    for operators, coeffs, weight in ((inputs, layer.input_pauli_coeffs, 2),
                                      (outputs, layer.output_pauli_coeffs, None)):
        strings = spectral.pauli_strings(3, weight)
        matrices = np.array([np.kron(np.kron(PAULI[a], PAULI[b]), PAULI[c]) for a, b, c in strings])
        np.testing.assert_allclose(operators, np.einsum("ks,sij->kij", coeffs.numpy(), matrices),
                                   atol=1e-12)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_operators_hamiltonians_and_states_are_hermitian(float64, kind):
    keras.utils.set_random_seed(7)
    layer = LAYERS[kind](0.7)
    x = np.random.default_rng(8).normal(size=(5, 2))
    layer.build(x.shape)
    inputs, outputs = layer.operators()
    hamiltonians = spectral.error_hamiltonians(inputs, x)
    rho, _ = layer.state(x)
    for matrices in (inputs, outputs, hamiltonians, rho):
        np.testing.assert_allclose(matrices, np.conj(np.swapaxes(matrices, -1, -2)), atol=1e-12)
    np.testing.assert_allclose(np.trace(rho, axis1=1, axis2=2), 1.0, atol=1e-12)
    # H(x) = ½ Σ_k (A_k − x_k)² computed directly
    direct = [0.5 * sum((a - xk * np.eye(a.shape[0])) @ (a - xk * np.eye(a.shape[0]))
                        for a, xk in zip(inputs.numpy(), row)) for row in x]
    np.testing.assert_allclose(hamiltonians, direct, atol=1e-12)


def test_large_beta_approaches_the_ground_state(float64):
    keras.utils.set_random_seed(9)
    x = np.random.default_rng(10).normal(size=(6, 2))
    ground = GeneralHSM(2, 3, 4)
    ground.build(x.shape)
    thermal = GeneralHSM(2, 3, 4, beta=1e4)
    thermal.build(x.shape)
    thermal.set_weights(ground.get_weights())
    np.testing.assert_allclose(thermal(x), ground(x), atol=1e-8)
    np.testing.assert_allclose(thermal.state(x)[1], ground.state(x)[1], atol=1e-3)


@pytest.mark.parametrize("beta", [None, 2.0], ids=["ground", "thermal"])
def test_degenerate_spectrum_gives_finite_gradients(float64, beta):
    # A_k = 0: H(x) = ½|x|² I is exactly degenerate.
    layer = GeneralHSM(2, 2, 3, beta=beta)
    x = np.array([[0.3, -1.0], [1.0, 2.0]])
    layer.build(x.shape)
    for name in ("input_diags", "input_trius"):
        getattr(layer, name).assign(tf.zeros_like(getattr(layer, name)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2) + tf.reduce_sum(layer.joint_energy(x, x))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(np.all(np.isfinite(g)) for g in grads)
    if beta is not None:  # the thermal state is differentiable there: check the values too
        _finite_difference_check(layer, lambda: tf.reduce_sum(layer(x) ** 2))


@pytest.mark.parametrize("name", ["input_operator_pauli_weight", "output_operator_pauli_weight"])
@pytest.mark.parametrize("weight", [0, 4])
def test_pauli_weight_out_of_range_is_refused(name, weight):
    with pytest.raises(ConfigError, match=f"{name} must be an integer in \\[1, 3\\], got {weight}"):
        PauliHSM(2, 1, 3, **{name: weight})


@pytest.mark.parametrize("cls,kwargs", [
    (GeneralHSM, {"input_operator_count": 3, "output_operator_count": 2, "hilbert_space_dims": 4,
                  "complex": True, "beta": None, "eigh_eps": 1e-8}),
    (GeneralHSM, {"input_operator_count": 3, "output_operator_count": 1, "hilbert_space_dims": 3,
                  "complex": False, "beta": 2.0, "eigh_eps": 1e-6}),
    (PauliHSM, {"input_operator_count": 3, "output_operator_count": 2, "qubits_count": 2,
                "input_operator_pauli_weight": 1, "output_operator_pauli_weight": None}),
], ids=["general_complex", "general_real_thermal", "pauli"])
def test_layer_contract(cls, kwargs):
    run_layer_test(cls, kwargs, tf.random.stateless_normal((5, 3), [0, 1]),
                   expected_output_shape=(5, kwargs["output_operator_count"]),
                   expected_num_trainable_weights=4 if cls is GeneralHSM else 2)


def test_non_finite_hamiltonian_gives_nan_not_an_error(float64):
    h = np.array([[[1.0, 0.0], [0.0, 2.0]], [[np.inf, 0.0], [0.0, 1.0]]])
    rho, energy = spectral.spectral_state(tf.constant(h))
    assert np.isnan(energy[1]) and np.isnan(rho[1]).all()
    np.testing.assert_allclose(energy[0], 1.0)
    np.testing.assert_allclose(rho[0], [[1.0, 0.0], [0.0, 0.0]])
