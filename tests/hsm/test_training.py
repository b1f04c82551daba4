"""fit, predict, evaluate, save/load and export against independent references: a known
synthetic target, numpy re-implementations of the losses and metrics, the schedules' formulas."""
import os

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfqsr.hsm import fit
from tfqsr.hsm.config import LossFunctionConfig
from tfqsr.hsm.model import HSMModel, export
from tfqsr.hsm.training import prediction_loss


def _table(rows=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(rows, 2))
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": x[:, 0] * x[:, 1],
                         "s": x[:, 0] + x[:, 1],
                         "label": (x[:, 0] + x[:, 1] > 0).astype(int)})


@pytest.fixture(scope="module")
def product_fit():
    """y = x1·x2 and s = x1 + x2 on [-1, 1]², a 3-dimensional complex GeneralHSM."""
    frame = _table()
    config = {"hsm_model": "general", "input_operator_count": 2, "output_operator_count": 2,
              "hilbert_space_dims": 3, "targets": ["y", "s"], "input_features": ["x1", "x2"],
              "epochs": 30, "batch_size": 32, "validation_split": 0.0, "seed": 0,
              "optimizer_config": {"default_params": {"lr": 0.05}}}
    return fit(config, frame, verbose=0), frame


def test_learns_a_product_to_low_error(product_fit):
    result, frame = product_fit
    assert result.outcome == "completed" and len(result.history) == 30
    assert result.test_metrics["r2"] > 0.98, result.test_metrics
    assert result.test_metrics["mse"] < 0.02 * np.mean([frame.y.var(), frame.s.var()])


def test_test_metrics_match_numpy(product_fit):
    result, _ = product_fit
    x, y = result.prepared.test
    predicted = result.predict(x)
    np.testing.assert_allclose(result.test_metrics["mse"], np.mean((predicted - y) ** 2), rtol=1e-4)
    np.testing.assert_allclose(result.test_metrics["mae"], np.mean(np.abs(predicted - y)), rtol=1e-4)
    r2 = np.mean(1 - np.sum((y - predicted) ** 2, 0) / np.sum((y - y.mean(0)) ** 2, 0))
    np.testing.assert_allclose(result.test_metrics["r2"], r2, rtol=1e-4)
    assert result.evaluate(x, y) == pytest.approx(result.test_metrics)


def test_keras_file_and_saved_model_give_the_same_predictions(product_fit, tmp_path):
    result, _ = product_fit
    x = result.prepared.test[0]
    path = tmp_path / "model.keras"
    result.model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, HSMModel) and loaded.scalers == result.model.scalers
    np.testing.assert_allclose(loaded.predict_labels(x), result.predict(x), rtol=1e-6, atol=1e-7)
    export(result.model, str(tmp_path / "export"))
    served = tf.saved_model.load(str(tmp_path / "export")).signatures["predict"]
    np.testing.assert_allclose(served(x=tf.constant(x))["outputs"], result.predict(x),
                               rtol=1e-5, atol=1e-6)
    assert os.path.exists(tmp_path / "export" / "model.keras")


def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    """Two epochs, then a third in the same run directory, equal three epochs at once (read by
    two parallel readers with prefetch: num_workers and pin_memory change no batch)."""
    frame = _table(96, seed=5)
    config = {"hsm_model": "general", "input_operator_count": 2, "output_operator_count": 1,
              "hilbert_space_dims": 2, "targets": "y", "input_features": ["x1", "x2"],
              "epochs": 2, "batch_size": 16, "seed": 6}
    fit(config, frame, run_dir=str(tmp_path / "a"), verbose=0)
    resumed = fit({**config, "epochs": 3}, frame, run_dir=str(tmp_path / "a"), verbose=0)
    straight = fit({**config, "epochs": 3, "num_workers": 2, "pin_memory": True}, frame,
                   run_dir=str(tmp_path / "b"), verbose=0)
    assert resumed.history == straight.history
    for a, b in zip(resumed.model.weights, straight.model.weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_diverging_training_stops_with_a_clear_message():
    from tfqsr.runtime.loop import NonFiniteLossError
    config = {"hsm_model": "general", "input_operator_count": 2, "output_operator_count": 1,
              "hilbert_space_dims": 2, "targets": "y", "input_features": ["x1", "x2"],
              "epochs": 2, "batch_size": 16, "optimizer_config": {"type": "SGD",
                                                                   "default_params": {"lr": 1e30}}}
    with pytest.raises(NonFiniteLossError, match="the loss or its gradient is not finite"):
        fit(config, _table(64), verbose=0)


def test_classification_with_groups_schedule_and_clipping():
    frame = _table(200, seed=1)
    config = {"hsm_model": "pauli", "input_operator_count": 2, "output_operator_count": 2,
              "qubits_count": 1, "targets": "label", "input_features": ["x1", "x2"],
              "weighted_layer": True, "epochs": 5, "batch_size": 16, "seed": 3,
              "loss_function_config": {"type": "CrossEntropyLoss"},
              "optimizer_config": {"type": "Adam", "default_params": {"lr": 0.1},
                                   "group_params": [
                                       {"param_name_contains": "input_weights", "params": {"lr": 0.02}},
                                       {"param_name_contains": ["input", "output"], "params": {}}]},
              "scheduler_config": {"type": "StepLR", "params": {"step_size": 2, "gamma": 0.5}},
              "gradient_clipping_config": {"max_norm": 1.0}}
    result = fit(config, frame, verbose=0)
    rates = [(row["learning_rate/group0"], row["learning_rate/group1"]) for row in result.history]
    expected = [(0.02 * 0.5 ** (e // 2), 0.1 * 0.5 ** (e // 2)) for e in range(5)]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)  # first match claims input_weights
    assert result.test_metrics["accuracy"] > 0.85, result.test_metrics
    x, y = result.prepared.test
    assert set(result.predict(x)) <= {0, 1}
    np.testing.assert_allclose(result.test_metrics["accuracy"], np.mean(result.predict(x) == y),
                               rtol=1e-6)


def test_binary_classification_with_one_logit():
    frame = _table(160, seed=7)
    config = {"hsm_model": "general", "input_operator_count": 2, "output_operator_count": 1,
              "hilbert_space_dims": 2, "targets": "label", "input_features": ["x1", "x2"],
              "epochs": 4, "batch_size": 16, "seed": 8, "validation_split": 0.0,
              "loss_function_config": {"type": "BCEWithLogitsLoss"},
              "optimizer_config": {"default_params": {"lr": 0.1}}}
    result = fit(config, frame, verbose=0)
    x, y = result.prepared.test
    np.testing.assert_allclose(result.test_metrics["accuracy"],
                               np.mean(result.predict(x) == y[:, 0]), rtol=1e-6)
    assert result.test_metrics["accuracy"] > 0.8, result.test_metrics


def test_fullenergy_training_lowers_the_joint_energy():
    frame = _table(200, seed=2)
    config = {"hsm_model": "general_fullenergy", "input_operator_count": 2,
              "output_operator_count": 1, "hilbert_space_dims": 3, "targets": "y",
              "input_features": ["x1", "x2"], "epochs": 4, "batch_size": 32, "seed": 4,
              "prediction_loss_weight": 1.0, "optimizer_config": {"default_params": {"lr": 0.05}},
              "scheduler_config": {"type": "ExponentialLR", "params": {"gamma": 0.9},
                                   "interval": "step"}}
    result = fit(config, frame, verbose=0)
    steps = len(result.prepared.train[0]) // 32  # per epoch: full batches of 32
    np.testing.assert_allclose([row["learning_rate"] for row in result.history],
                               [0.05 * 0.9 ** (steps * e) for e in range(1, 5)], rtol=1e-5)
    energies = [row["energy"] for row in result.history]
    assert energies[-1] < energies[0] and "val_energy" in result.history[-1]
    np.testing.assert_allclose(result.history[0]["loss"],
                               result.history[0]["energy"] + result.history[0]["mse"]
                               / result.model.scalers["target_scale"][0] ** 2, rtol=1e-4)


def _logits(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)


def _log_softmax(z):
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_cross_entropy_with_weight_and_label_smoothing_matches_pytorch_formula():
    z, y = _logits()
    w, eps = np.array([0.5, 2.0, 1.0]), 0.1
    loss = prediction_loss(LossFunctionConfig(type="CrossEntropyLoss",
                                              params={"weight": w.tolist(), "label_smoothing": eps}), 3)
    q = (1 - eps) * np.eye(3)[y] + eps / 3
    expected = (-(q * _log_softmax(z) * w).sum(-1)).sum() / w[y].sum()
    np.testing.assert_allclose(loss(tf.constant(y, tf.int32), tf.constant(z)), expected, rtol=1e-10)


def test_nll_loss_matches_pytorch_formula():
    z, y = _logits(1)
    loss = prediction_loss(LossFunctionConfig(type="NLLLoss"), 3)
    np.testing.assert_allclose(loss(tf.constant(y, tf.int32), tf.constant(z)),
                               -z[np.arange(6), y].mean(), rtol=1e-10)


def test_bce_with_logits_and_pos_weight_matches_pytorch_formula():
    z, y = np.array([[0.3], [-2.0], [1.5]]), np.array([[1.0], [0.0], [0.0]])
    loss = prediction_loss(LossFunctionConfig(type="BCEWithLogitsLoss", params={"pos_weight": 3.0}), 1)
    s = 1 / (1 + np.exp(-z))
    expected = -(3.0 * y * np.log(s) + (1 - y) * np.log(1 - s)).mean()
    np.testing.assert_allclose(loss(tf.constant(y), tf.constant(z)), expected, rtol=1e-10)


@pytest.mark.parametrize("name,params,reference", [
    ("MSELoss", {}, lambda r: r ** 2),
    ("L1Loss", {}, np.abs),
    ("HuberLoss", {"delta": 0.5}, lambda r: np.where(np.abs(r) <= 0.5, 0.5 * r ** 2, 0.5 * (np.abs(r) - 0.25))),
    ("SmoothL1Loss", {"beta": 0.5}, lambda r: np.where(np.abs(r) < 0.5, 0.5 * r ** 2 / 0.5, np.abs(r) - 0.25)),
])
def test_regression_losses_match_pytorch_formulas(name, params, reference):
    prediction, target = np.array([[0.1, -2.0], [1.3, 0.2]]), np.array([[0.0, 0.0], [1.0, 1.0]])
    loss = prediction_loss(LossFunctionConfig(type=name, params=params), 0)
    np.testing.assert_allclose(loss(tf.constant(target), tf.constant(prediction)),
                               reference(prediction - target).mean(), rtol=1e-10)


def test_keras_loss_by_name_equals_the_pytorch_one():
    z, y = _logits(2)
    keras_loss = prediction_loss(LossFunctionConfig(
        type="SparseCategoricalCrossentropy", params={"from_logits": True}), 3)
    torch_loss = prediction_loss(LossFunctionConfig(type="CrossEntropyLoss"), 3)
    labels, logits = tf.constant(y, tf.int32), tf.constant(z, tf.float32)
    np.testing.assert_allclose(keras_loss(labels, logits), torch_loss(labels, logits), rtol=1e-6)
    assert LossFunctionConfig(type="SparseCategoricalCrossentropy").task == "classification"
