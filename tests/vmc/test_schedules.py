"""Learning-rate schedules: values against their formulas, validation, serialization."""
import subprocess
import sys

import keras
import numpy as np
import pytest

from tfqsr.validation import ConfigError
from tfqsr.vmc import config as vmc_config
from tfqsr.vmc.schedules import TransformerWarmup, WarmupConstant


def values(schedule, steps):
    return [float(schedule(step)) for step in steps]


def test_transformer_warmup_rises_linearly_then_decays_as_inverse_square_root():
    # s = step + 1; lr = 0.1 * min(s / 4, sqrt(4 / s))
    np.testing.assert_allclose(values(TransformerWarmup(0.1, 4), [0, 1, 3, 15, 399]),
                               [0.025, 0.05, 0.1, 0.05, 0.01], rtol=1e-6)


def test_warmup_constant_rises_linearly_then_stays():
    # s = step + 1; lr = 0.1 * min(1, s / 4)
    np.testing.assert_allclose(values(WarmupConstant(0.1, 4), [0, 1, 3, 15, 9999]),
                               [0.025, 0.05, 0.1, 0.1, 0.1], rtol=1e-6)


def test_warmup_constant_without_warmup_is_constant():
    np.testing.assert_allclose(values(WarmupConstant(0.03, 0), [0, 1, 100]), [0.03] * 3, rtol=1e-6)


def test_warmup_constant_rejects_negative_warmup():
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupConstant(0.1, -1)


@pytest.mark.parametrize("schedule", [TransformerWarmup(0.1, 4), WarmupConstant(0.1, 4)],
                         ids=["warmup", "constant"])
def test_schedule_survives_a_serialization_round_trip(schedule):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert type(restored) is type(schedule) and restored.get_config() == schedule.get_config()
    np.testing.assert_allclose(values(restored, [0, 5, 50]), values(schedule, [0, 5, 50]))
    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(keras.optimizers.SGD(schedule)))
    np.testing.assert_allclose(float(optimizer.learning_rate), float(schedule(0)))  # at iteration 0


@pytest.mark.parametrize("name,cls", [("warmup", TransformerWarmup), ("constant", WarmupConstant)])
def test_config_builds_the_named_schedule(name, cls):
    config = vmc_config.VMCConfig(lr=0.2, warmup_steps=3, lr_schedule=name).validate()
    schedule = vmc_config.build_schedule(config)
    assert isinstance(schedule, cls) and schedule.get_config()["warmup_steps"] == 3


def test_constant_schedule_allows_no_warmup_and_warmup_schedule_does_not():
    vmc_config.VMCConfig(lr_schedule="constant", warmup_steps=0).validate()
    with pytest.raises(ConfigError, match=r"--warmup_steps \(-w\) must be an integer >= 1"):
        vmc_config.VMCConfig(lr_schedule="warmup", warmup_steps=0).validate()


def test_unknown_schedule_is_named():
    with pytest.raises(ConfigError, match="--lr_schedule must be one of warmup, constant, got 'cosine'"):
        vmc_config.VMCConfig(lr_schedule="cosine").validate()


def test_unknown_schedule_flag_exits_2_with_one_line(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "tfqsr.train_decoder", "--lr_schedule=cosine",
                             f"--run_dir={run_dir}", "--verbose=0"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: --lr_schedule must be one of warmup, constant, got 'cosine'"]
    assert not run_dir.exists()
