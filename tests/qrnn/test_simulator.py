"""The state-vector simulator and the quantum neuron against dense numpy matrices: gates keep
the norm, postselection renormalizes and returns the Born probability, the closed-form neuron
equals the gate-by-gate circuit with postselected ancillas."""
import functools

import numpy as np
import pytest
import tensorflow as tf

from tfqsr.qrnn import neuron, simulator

RNG = np.random.default_rng(7)


def random_state(batch, n):
    psi = RNG.normal(size=(batch, 2 ** n))
    psi /= np.linalg.norm(psi, axis=1, keepdims=True)
    return tf.constant(psi.reshape([batch] + [2] * n))


def dense(matrix, qubit, n):
    """The 2^n matrix of a one-qubit ``matrix`` on ``qubit`` (qubit 0 most significant)."""
    ops = [np.eye(2)] * n
    ops[qubit] = matrix
    return functools.reduce(np.kron, ops)


def flat(state):
    return state.numpy().reshape(state.shape[0], -1)


def test_single_qubit_gate_equals_kronecker_product_and_keeps_the_norm():
    state = random_state(3, 4)
    angle = tf.constant(0.7, tf.float64)
    out = simulator.apply(state, simulator.ry(angle), 2)
    expected = flat(state) @ dense(simulator.ry(angle).numpy(), 2, 4).T
    np.testing.assert_allclose(flat(out), expected, atol=1e-12)
    np.testing.assert_allclose(simulator.norm_squared(out), 1.0, atol=1e-12)


def test_controlled_gate_acts_only_where_all_controls_are_one():
    state = random_state(2, 4)
    out = simulator.apply_controlled(state, simulator.MINUS_IY, [0, 3], 1)
    projector = np.diag([float(((i >> 3) & 1) and (i & 1)) for i in range(16)])
    matrix = projector @ dense(simulator.MINUS_IY, 1, 4) + (np.eye(16) - projector)
    np.testing.assert_allclose(flat(out), flat(state) @ matrix.T, atol=1e-12)
    np.testing.assert_allclose(simulator.norm_squared(out), 1.0, atol=1e-12)


def test_flip_where_writes_each_rows_token_and_resets_it():
    zero = simulator.zero_state(4, 3, tf.float64)
    tokens = tf.constant([0, 3, 5, 6])
    bits = simulator.token_bits(tokens, 2)
    written = simulator.flip_where(zero, bits, [0, 1])
    np.testing.assert_array_equal(np.argmax(flat(written), axis=1), [0, 6, 2, 4])  # x0 x1 0
    np.testing.assert_array_equal(flat(simulator.flip_where(written, bits, [0, 1])), flat(zero))


def test_probabilities_of_the_first_qubits_are_born_probabilities():
    state = random_state(2, 4)
    expected = (flat(state) ** 2).reshape(2, 4, 4).sum(axis=2)
    np.testing.assert_allclose(simulator.probabilities(state, 2), expected, atol=1e-12)


def test_postselection_renormalizes_returns_the_probability_and_resets():
    state = random_state(3, 3)
    outcomes = tf.constant([1, 0, 3])
    out, probability = simulator.postselect(state, 2, outcomes)
    blocks = flat(state).reshape(3, 4, 2)
    expected_p = (blocks[np.arange(3), [1, 0, 3]] ** 2).sum(axis=1)
    np.testing.assert_allclose(probability, expected_p, atol=1e-12)
    np.testing.assert_allclose(simulator.norm_squared(out), 1.0, atol=1e-12)
    kept = blocks[np.arange(3), [1, 0, 3]] / np.sqrt(expected_p)[:, None]
    np.testing.assert_allclose(flat(out)[:, :2], kept, atol=1e-12)  # moved to |00>
    np.testing.assert_allclose(flat(out)[:, 2:], 0.0)


def test_sampled_outcomes_follow_the_probabilities():
    p = tf.constant([[0.1, 0.6, 0.0, 0.3]], tf.float64)
    draws = simulator.sample(tf.tile(p, [20000, 1]), tf.constant([3, 4], tf.int64)).numpy()
    counts = np.bincount(draws, minlength=4)
    expected = 20000 * p.numpy()[0]
    chi2 = ((counts - expected)[expected > 0] ** 2 / expected[expected > 0]).sum()
    assert counts[2] == 0 and chi2 < 16.3  # chi-square, 2 dof, p = 3e-4


def dense_neuron(psi, target, phi, theta, bias, order, degree, n):
    """The neuron as a 2^n matrix built entry by entry from its definition, then renormalized."""
    table = neuron.subsets(n - 1, degree)
    sources = [q for q in range(n) if q != target]
    matrix = np.zeros((2 ** n, 2 ** n))
    for index in range(2 ** n):
        bits = [(index >> (n - 1 - q)) & 1 for q in range(n)]
        x = [bits[q] for q in sources]
        eta = 0.5 * (sum(p for p, s in zip(phi, table) if all(x[i] for i in s)) + theta + bias)
        c, s = np.cos(eta) ** 2 ** order, np.sin(eta) ** 2 ** order
        partner = index ^ (1 << (n - 1 - target))
        matrix[index, index] = c
        matrix[index, partner] = -s if bits[target] == 0 else s
    out = psi @ matrix.T
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("degree", [1, 2, 3])
def test_closed_form_neuron_equals_circuit_and_dense_matrix(order, degree):
    n, target = 4, 1
    sources = [q for q in range(n) if q != target]
    count = len(neuron.subsets(n - 1, degree))
    phi = tf.constant(RNG.uniform(-2, 2, count))
    theta = tf.constant(RNG.uniform(-1, 1), tf.float64)
    state = random_state(3, n)
    fast = neuron.neuron(state, target, phi, theta, bias=np.pi / 2, order=order, degree=degree)
    np.testing.assert_allclose(
        flat(fast), dense_neuron(flat(state), target, phi.numpy(), theta.numpy(), np.pi / 2,
                                 order, degree, n), atol=1e-10)
    padded = tf.reshape(tf.concat([tf.reshape(state, [3, -1, 1]),
                                   tf.zeros([3, 2 ** n, 2 ** order - 1], tf.float64)], 2),
                        [3] + [2] * (n + order))
    ancillas = list(range(n, n + order))
    circuit, probability = neuron.neuron_circuit(padded, target, ancillas, phi, theta,
                                                 bias=np.pi / 2, degree=degree, sources=sources)
    assert np.all(probability.numpy() > 0) and np.all(probability.numpy() <= 1 + 1e-12)
    circuit = flat(circuit).reshape(3, 2 ** n, 2 ** order)
    np.testing.assert_allclose(circuit[:, :, 1:], 0.0, atol=1e-12)  # ancillas back in |0>
    np.testing.assert_allclose(circuit[:, :, 0], flat(fast), atol=1e-10)
