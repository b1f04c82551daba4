"""The pydantic configuration and the data checks: every error its own test, the JSON round
trip and schema, PyTorch parameter names."""
import json

import numpy as np
import pandas as pd
import pydantic
import pytest

from tfqsr.hsm import config as hsm_config
from tfqsr.hsm.config import (EarlyStoppingConfig, GeneralHSModelHyperparameters,
                              GradientClippingConfig, LossFunctionConfig, OptimizerConfig,
                              PauliHSModelHyperparameters, SchedulerConfig, load_config)
from tfqsr.hsm.data import check_device, prepare
from tfqsr.validation import ConfigError

BASE = {"hsm_model": "general", "input_operator_count": 2, "output_operator_count": 1,
        "hilbert_space_dims": 4, "targets": "y"}


def _frame(rows=50):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 2))
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": x[:, 0] * x[:, 1],
                         "label": (x[:, 0] > 0).astype(int)})


def _config(**changes):
    return load_config({**BASE, **changes})


def _invalid(match, **changes):
    with pytest.raises(pydantic.ValidationError, match=match):
        _config(**changes)


def test_defaults_are_the_guides():
    config = _config()
    assert (config.weighted_layer, config.split, config.seed, config.device, config.num_workers,
            config.pin_memory, config.complex, config.eigh_eps, config.beta) == (
        False, 0.2, 42, "auto", 0, False, True, 1e-8, None)
    stopping = EarlyStoppingConfig()
    assert (stopping.min_delta, stopping.patience, stopping.mode, stopping.verbose,
            stopping.restore_best_weights) == (1e-4, 10, "min", False, True)
    assert SchedulerConfig(type="StepLR", params={"step_size": 2}).interval == "epoch"
    assert GradientClippingConfig(max_norm=1.0).norm_type == 2.0


def test_json_round_trip_and_schema():
    config = _config(scheduler_config={"type": "StepLR", "params": {"step_size": 3}},
                     early_stopping_config={"patience": 3}, targets=["y"],
                     optimizer_config={"type": "AdamW", "default_params": {"lr": 0.1},
                                       "group_params": [{"param_name_contains": "output",
                                                         "params": {"lr": 0.01}}]})
    assert load_config(config.model_dump_json()) == config
    pauli = PauliHSModelHyperparameters(input_operator_count=2, output_operator_count=1,
                                        qubits_count=2, targets="y")
    assert load_config(json.loads(pauli.model_dump_json())) == pauli
    schema = GeneralHSModelHyperparameters.model_json_schema()
    assert {"hilbert_space_dims", "optimizer_config", "loss_function_config"} <= set(schema["properties"])


def test_torch_optimizer_parameters_are_translated():
    assert hsm_config.keras_optimizer_arguments(
        "Adam", {"lr": 0.1, "betas": [0.8, 0.9], "eps": 1e-7, "weight_decay": 0.01}) == (
        "Adam", {"learning_rate": 0.1, "beta_1": 0.8, "beta_2": 0.9, "epsilon": 1e-7,
                 "weight_decay": 0.01})
    assert hsm_config.keras_optimizer_arguments("RMSprop", {"alpha": 0.95, "momentum": 0.5}) == (
        "RMSprop", {"rho": 0.95, "momentum": 0.5})
    assert hsm_config.keras_optimizer_arguments("Lamb", {"learning_rate": 0.1}) == (
        "Lamb", {"learning_rate": 0.1})  # any keras.optimizers class


def test_gpu_means_cuda():
    assert _config(device="gpu").device == "cuda"


def test_unknown_field_is_refused():
    _invalid("hidden_size", hidden_size=3)


def test_unknown_hsm_model_is_refused():
    with pytest.raises(ValueError, match="hsm_model must be one of general, general_fullenergy, pauli"):
        _config(hsm_model="quantum")


def test_mps_is_refused():
    _invalid("'mps'.*does not exist in TensorFlow", device="mps")


def test_unknown_device_is_refused():
    _invalid("must be 'auto', 'cpu', 'cuda' or 'gpu'", device="tpu")


def test_cuda_without_a_gpu_is_refused():
    import tensorflow as tf
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="device 'cuda' was requested but TensorFlow sees no GPU"):
        check_device(_config(device="cuda").device)


def test_unknown_optimizer_is_refused():
    _invalid("unknown optimizer 'Newton'", optimizer_config={"type": "Newton"})


def test_unknown_optimizer_parameter_is_refused():
    _invalid("unknown parameter 'dampening' of optimizer SGD",
             optimizer_config={"type": "SGD", "default_params": {"dampening": 0.1}})


def test_unknown_group_parameter_is_refused():
    _invalid("unknown parameter 'betas2'", optimizer_config={
        "group_params": [{"param_name_contains": "input", "params": {"betas2": 1}}]})


def test_unknown_loss_is_refused():
    _invalid("unknown loss 'FocalLoss'", loss_function_config={"type": "FocalLoss"})


def test_unknown_loss_parameter_is_refused():
    _invalid(r"unknown parameters \['reduction'\] of MSELoss",
             loss_function_config={"type": "MSELoss", "params": {"reduction": "sum"}})


def test_unknown_scheduler_is_refused():
    _invalid("unknown scheduler 'OneCycleLR'", scheduler_config={"type": "OneCycleLR"})


def test_unknown_scheduler_parameter_is_refused():
    _invalid(r"unknown \['step'\]", scheduler_config={"type": "StepLR",
                                                      "params": {"step_size": 2, "step": 1}})


def test_missing_scheduler_parameter_is_refused():
    _invalid(r"missing \['T_max'\]", scheduler_config={"type": "CosineAnnealingLR"})


def test_plateau_scheduler_per_step_is_refused():
    _invalid("interval must be 'epoch'",
             scheduler_config={"type": "ReduceLROnPlateau", "interval": "step"})


def test_unknown_interval_is_refused():
    _invalid("'epoch' or 'step'", scheduler_config={"type": "ExponentialLR",
                                                     "params": {"gamma": 0.9}, "interval": "batch"})


def test_scheduler_monitor_never_logged_is_refused():
    _invalid(r"scheduler_config.params.monitor 'val_accuracy' is never logged", scheduler_config={
        "type": "ReduceLROnPlateau", "params": {"monitor": "val_accuracy"}})


def test_early_stopping_monitor_never_logged_is_refused():
    _invalid("early_stopping_config.monitor 'val_r2' is never logged",
             early_stopping_config={"monitor": "val_r2"})


def test_validation_monitor_without_validation_is_refused():
    _invalid("early_stopping_config.monitor 'val_loss' is never logged",
             early_stopping_config={"monitor": "val_loss"}, validation_split=0.0)


def test_norm_type_below_one_is_refused():
    _invalid("norm_type\n.*greater than or equal to 1",
             gradient_clipping_config={"max_norm": 1, "norm_type": 0.5})


def test_infinite_norm_type_survives_the_json_round_trip():
    config = _config(gradient_clipping_config={"max_norm": 1, "norm_type": "inf"})
    assert config.gradient_clipping_config.norm_type == float("inf")
    assert type(config).model_validate_json(config.model_dump_json()) == config
    assert type(config).model_validate(config.model_dump(mode="json")) == config


@pytest.mark.parametrize("name", ["input_operator_pauli_weight", "output_operator_pauli_weight"])
def test_pauli_weight_out_of_range_is_refused(name):
    with pytest.raises(pydantic.ValidationError, match=f"{name} must be None or in 1..qubits_count = 2"):
        load_config({"hsm_model": "pauli", "input_operator_count": 2, "output_operator_count": 1,
                     "qubits_count": 2, "targets": "y", name: 3})


def test_targets_overlapping_features_are_refused():
    _invalid(r"targets \['y'\] are also input_features", input_features=["a", "y"])


def test_binary_loss_with_two_outputs_is_refused():
    _invalid("output_operator_count must be 1", output_operator_count=2,
             loss_function_config={"type": "BCEWithLogitsLoss"})


def test_target_missing_from_data_is_refused():
    with pytest.raises(ConfigError, match=r"targets \['z'\] are not columns of the data"):
        prepare(_config(targets="z"), _frame())


def test_feature_missing_from_data_is_refused():
    with pytest.raises(ConfigError, match=r"input_features \['c'\] are not columns"):
        prepare(_config(input_features=["a", "c"]), _frame())


def test_input_operator_count_not_matching_data_is_refused():
    with pytest.raises(ConfigError, match="input_operator_count must equal the number of input "
                                          "features, 3, got 2"):
        prepare(_config(), _frame())  # a, b and label


def test_output_operator_count_not_matching_classes_is_refused():
    config = _config(targets="label", input_features=["a", "b"], output_operator_count=3,
                     loss_function_config={"type": "CrossEntropyLoss"})
    with pytest.raises(ConfigError, match="output_operator_count must equal the number of "
                                          "classes, 2, got 3"):
        prepare(config, _frame())


def test_output_operator_count_not_matching_targets_is_refused():
    config = _config(targets=["y", "a"], input_features=["b"], input_operator_count=1)
    with pytest.raises(ConfigError, match="number of targets, 2, got 1"):
        prepare(config, _frame())


def test_one_hot_targets_must_be_one_hot():
    frame = _frame().assign(c0=1, c1=1)
    config = _config(targets=["c0", "c1"], input_features=["a", "b"], output_operator_count=2,
                     loss_function_config={"type": "CrossEntropyLoss"})
    with pytest.raises(ConfigError, match="must be a one-hot encoding"):
        prepare(config, frame)


def test_unknown_sklearn_dataset_is_refused():
    with pytest.raises(ConfigError, match="sklearn:<name> with name one of breast_cancer"):
        prepare(_config(), "sklearn:mnist")


def test_missing_csv_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="data must be an existing CSV file"):
        prepare(_config(), str(tmp_path / "none.csv"))


def test_split_and_standardization():
    frame = _frame(100)
    prepared = prepare(_config(input_features=["a", "b"], split=0.2, validation_split=0.25), frame)
    assert [len(part[0]) for part in (prepared.train, prepared.validation, prepared.test)] == [60, 20, 20]
    np.testing.assert_allclose(prepared.features.mean, prepared.train[0].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(prepared.targets.scale, prepared.train[1].std(axis=0), rtol=1e-5)
    again = prepare(_config(input_features=["a", "b"], split=0.2, validation_split=0.25), frame)
    np.testing.assert_array_equal(again.test[0], prepared.test[0])  # reproducible from seed


def test_one_hot_and_integer_labels_give_the_same_classes():
    frame = _frame().assign(neg=lambda f: 1 - f.label, pos=lambda f: f.label)
    common = {"input_features": ["a", "b"], "output_operator_count": 2,
              "loss_function_config": {"type": "CrossEntropyLoss"}}
    integer = prepare(_config(targets="label", **common), frame)
    onehot = prepare(_config(targets=["neg", "pos"], **common), frame)
    np.testing.assert_array_equal(integer.train[1], onehot.train[1])
    assert onehot.classes == ["neg", "pos"] and integer.classes == [0, 1]
