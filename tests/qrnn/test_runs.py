"""Training runs from Python (``tfqsr.qrnn.runs``): a resumed run equals an uninterrupted one
bit for bit (also with L-BFGS, slow), ``resume`` continues from an explicit checkpoint with its
overrides, and a resume is refused when its changes break the dataset's constraints. Tiny
networks, no XLA."""
import json
import os

import keras
import numpy as np
import pytest

from tfqsr.qrnn.config import QRNNConfig
from tfqsr.qrnn.runs import check_run, resume_plan, train
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.logging import read_metrics
from tfqsr.validation import ConfigError

TINY = dict(dataset="simple-seq", sentence_length=4, batch_size=2, workspace=1, stages=1,
            order=1, degree=1, learning_rate=0.05, seed=5, validate_every=2,
            checkpoint_every=2, num_validation_samples=0, jit_compile=False)
ONE_PROCESS = Distributed(use_horovod=False)


def _train(plan):
    return train(plan, verbose=0, distributed=ONE_PROCESS)


def _weights(run_dir):
    model = keras.models.load_model(os.path.join(run_dir, "export", "model.keras"))
    return [w.numpy() for w in model.weights]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    straight, split = str(root / "straight"), str(root / "split")
    assert _train(check_run(QRNNConfig(epochs=6, **TINY), straight)) == ("completed", 6)
    assert _train(check_run(QRNNConfig(epochs=3, **TINY), split)) == ("completed", 3)
    assert _train(resume_plan(split, {"epochs": 6})) == ("completed", 6)
    return straight, split


def test_resumed_run_equals_uninterrupted_run(runs):
    straight, split = runs
    for a, b in zip(_weights(straight), _weights(split), strict=True):
        np.testing.assert_array_equal(a, b)
    losses = [[row["loss"] for row in read_metrics(d)] for d in runs]
    assert losses[0] == losses[1] and len(losses[0]) == 6


@pytest.mark.slow
def test_lbfgs_run_resumed_equals_uninterrupted_run(tmp_path):
    """One L-BFGS step per epoch with up to 20 evaluations on its batch; the optimizer's
    history, direction, step and counters are in the checkpoint."""
    config = dict(TINY, optimizer="lbfgs", validate_every=4)
    straight, split = str(tmp_path / "straight"), str(tmp_path / "split")
    assert _train(check_run(QRNNConfig(epochs=4, **config), straight)) == ("completed", 4)
    assert _train(check_run(QRNNConfig(epochs=2, **config), split)) == ("completed", 2)
    assert _train(resume_plan(split, {"epochs": 4})) == ("completed", 4)
    for a, b in zip(_weights(straight), _weights(split), strict=True):
        np.testing.assert_array_equal(a, b)
    losses = [[row["loss"] for row in read_metrics(d)] for d in (straight, split)]
    assert losses[0] == losses[1]
    evaluations = [value for name, value in _checkpoint_values(straight).items()
                   if "func_evals" in name]
    assert 4 < evaluations[0] <= 4 * 20  # several evaluations per step, at most 20


def _checkpoint_values(run_dir):
    import tensorflow as tf
    path = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)}


def test_run_directory_holds_config_metrics_plot_and_best_checkpoint(runs):
    straight, _ = runs
    for name in ("config.json", "metrics.jsonl", "plots/training.png",
                 "checkpoints/best/checkpoint", "export/model.keras"):
        assert os.path.exists(os.path.join(straight, name)), name
    rows = read_metrics(straight)
    assert [r["epoch"] for r in rows if "val_loss" in r] == [2, 4, 6]
    assert all(0 <= r["val_character_error"] <= 1 for r in rows if "val_loss" in r)
    assert all(0 < r["min_postselection"] <= 1 for r in rows)


def test_resume_from_explicit_checkpoint_with_learning_rate_override(runs, tmp_path):
    straight, _ = runs
    best = os.path.join(straight, "checkpoints", "best")
    numbers = [int(name[5:-6]) for name in os.listdir(best) if name.endswith(".index")]
    checkpoint = os.path.join(best, f"ckpt-{numbers[0]}")
    assert _train(resume_plan(checkpoint, {"learning_rate": 0.5, "epochs": 8})) == ("completed", 8)
    rows = read_metrics(straight)
    assert [r["epoch"] for r in rows] == list(range(1, 9))
    assert [r["learning_rate"] for r in rows[numbers[0]:]] == [0.5] * (8 - numbers[0])
    with open(os.path.join(straight, "config.json")) as f:
        assert json.load(f)["learning_rate"] == 0.5


def test_resume_refuses_a_batch_size_the_dataset_does_not_allow(runs):
    with pytest.raises(ConfigError, match=r"\(--num_shards, --batch_size\) must be one of"):
        resume_plan(runs[0], {"batch_size": 3})


def test_resume_refuses_changing_a_stored_option(runs):
    with pytest.raises(ConfigError, match="--seed is stored in the run"):
        resume_plan(runs[0], {"seed": 1})


def test_another_configuration_in_the_run_directory_is_refused(runs):
    with pytest.raises(ConfigError, match="differs in: .*workspace"):
        check_run(QRNNConfig(epochs=6, **{**TINY, "workspace": 2}), runs[0])
