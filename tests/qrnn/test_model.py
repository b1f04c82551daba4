"""QRNN: parameter counts worked out by hand from the construction, the cell and a whole
teacher-forced sequence against a dense-matrix numpy computation, sampling where asked, the
losses, and Keras serialization."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.qrnn.test_simulator import dense, dense_neuron
from tfqsr.qrnn import simulator
from tfqsr.qrnn.architecture import parameter_count
from tfqsr.qrnn.architecture import rvqe_loss_minimum
from tfqsr.qrnn.model import QRNN, sequence_metrics


@pytest.mark.parametrize("workspace,width,stages,degree,expected", [
    # n = I + W qubits, each neuron reads n - 1 sources: sum_{k<=degree} C(n-1, k) + 1 weights;
    # neurons: W (input layer) + stages * W + I (output layer); plus stages * W rotations.
    (1, 1, 1, 1, 3 * (1 + 1) + 1),                      # n=2: 1 source
    (3, 3, 2, 2, 12 * (5 + 10 + 1) + 6),               # n=6: 5 sources
    (6, 2, 2, 3, 20 * (7 + 21 + 35 + 1) + 12),         # the README's digits command
    (4, 3, 0, 1, 7 * (6 + 1)),                         # no stages: input and output layers
])
def test_parameter_count_worked_by_hand(workspace, width, stages, degree, expected):
    assert parameter_count(workspace, width, stages, degree) == expected
    model = QRNN(workspace, width, stages, 2, degree)
    assert model.count_params() == expected


def numpy_sequence(model, tokens):
    """Teacher-forced output distributions of a QRNN, with dense 2^n matrices (numpy)."""
    cell = model.cell
    width, n = cell.input_width, cell.n_qubits
    phi, theta, rotations = (w.numpy() for w in (cell.phi, cell.theta, cell.rotations))
    x_matrix = np.array([[0.0, 1.0], [1.0, 0.0]])

    def flip(psi, token):
        for q in range(width):
            if (token >> (width - 1 - q)) & 1:
                psi = psi @ dense(x_matrix, q, n).T
        return psi

    def neuron(psi, i):
        return dense_neuron(psi, cell.targets[i], phi[i], theta[i], cell.initial_bias,
                            cell.order, cell.degree, n)

    out = []
    for row in tokens:
        psi = np.zeros((1, 2 ** n))
        psi[0, 0] = 1.0
        distributions = []
        for t in range(len(row) - 1):
            psi = flip(psi, row[t])
            i = 0
            for _ in range(cell.workspace):
                psi, i = neuron(psi, i), i + 1
            for stage in range(cell.stages):
                for w in range(cell.workspace):
                    angle = rotations[stage, w]
                    ry = np.array([[np.cos(angle / 2), -np.sin(angle / 2)],
                                   [np.sin(angle / 2), np.cos(angle / 2)]])
                    psi = psi @ dense(ry, width + w, n).T
                for _ in range(cell.workspace):
                    psi, i = neuron(psi, i), i + 1
            psi = flip(psi, row[t])
            for _ in range(width):
                psi, i = neuron(psi, i), i + 1
            blocks = psi.reshape(2 ** width, -1)
            p = (blocks ** 2).sum(axis=1)
            distributions.append(p)
            kept = blocks[row[t + 1]] / np.sqrt(p[row[t + 1]])
            psi = np.zeros((1, 2 ** n))
            psi[0, :kept.size] = kept
        out.append(distributions)
    return np.array(out)


@pytest.fixture(scope="module")
def tiny(request):
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        keras.utils.set_random_seed(3)
        model = QRNN(2, 2, 1, 2, 2, initial_weights_spread=1.0, initial_bias_spread=1.0,
                     initial_unitaries_spread=1.0)
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")
    return model


TOKENS = np.array([[0, 3, 1, 2, 2], [1, 1, 0, 3, 0]])


def test_sequence_equals_dense_numpy_computation(tiny):
    probabilities = tiny(tf.constant(TOKENS)).numpy()
    np.testing.assert_allclose(probabilities, numpy_sequence(tiny, TOKENS), atol=1e-10)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-12)


def test_run_postselection_probabilities_and_sampled_positions(tiny):
    sampled = np.zeros((2, 4), bool)
    sampled[:, -1] = True
    out = tiny.run(TOKENS, TOKENS, sampled, tf.constant([5, 6], tf.int64))
    p = out["probabilities"].numpy()
    targets = TOKENS[:, 1:]
    chosen = np.take_along_axis(p, targets[..., None], axis=2)[..., 0]
    np.testing.assert_allclose(out["postselection"][:, :-1], chosen[:, :-1], atol=1e-12)
    np.testing.assert_allclose(out["postselection"][:, -1], 1.0)
    np.testing.assert_array_equal(out["outcomes"][:, :-1], targets[:, :-1])
    # the first three steps equal teacher forcing, whatever is sampled at the last one
    np.testing.assert_allclose(p, tiny(tf.constant(TOKENS)).numpy(), atol=1e-12)


def test_losses_at_scored_positions(tiny):
    scored = np.array([[True, False, True, False], [False, False, False, True]])
    batch = (tf.constant(TOKENS), tf.constant(TOKENS), tf.constant(scored))
    p = tiny(tf.constant(TOKENS)).numpy()
    chosen = np.take_along_axis(p, TOKENS[:, 1:, None], axis=2)[..., 0][scored]
    nll = sequence_metrics(tiny, batch, loss="nll")
    np.testing.assert_allclose(nll["loss"], -np.log(chosen).mean(), atol=1e-12)
    rvqe = sequence_metrics(tiny, batch, loss="rvqe")
    logits = p[scored]
    cross_entropy = -chosen + np.log(np.exp(logits).sum(axis=1))
    np.testing.assert_allclose(rvqe["loss"], (cross_entropy - (-1 + math.log(3 + math.e))).mean(),
                               atol=1e-12)
    assert rvqe_loss_minimum(4) == pytest.approx(-1 + np.log(np.exp(1) + 3))
    postselected = np.take_along_axis(p, TOKENS[:, 1:, None], axis=2).min()
    np.testing.assert_allclose(nll["min_postselection"], postselected, atol=1e-12)


def test_evaluation_character_error_counts_wrong_sampled_tokens():
    model = QRNN(1, 1, 1, 1, 1)
    model.cell.phi.assign(np.zeros((3, 1)))
    model.cell.theta.assign([0.0, 0.0, -np.pi / 2])  # output neuron: eta = 0, rotation 0
    tokens = tf.constant([[0, 0, 1, 0]])
    scored = tf.constant([[True, True, True]])
    metrics = sequence_metrics(model, (tokens, tokens, scored), training=False,
                               seed=tf.constant([1, 1], tf.int64))
    # the output qubit stays |0>: the sampled token is always 0, wrong at one of 3 positions
    assert float(metrics["character_error"]) == pytest.approx(1 / 3)


def test_keras_round_trip(tiny, tmp_path):
    path = tmp_path / "qrnn.keras"
    tiny.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_config() == tiny.get_config()
    np.testing.assert_allclose(loaded(tf.constant(TOKENS)), tiny(tf.constant(TOKENS)), atol=1e-12)
    fresh = QRNN.from_config(tiny.get_config())
    assert fresh.count_params() == tiny.count_params()
