"""python -m tfqsr.hsm: bad input exits 2 with one line and writes nothing; a run writes its
directory (metrics, checkpoints, export, test metrics, plot), continues when --epochs is
raised and refuses another configuration unless --overwrite."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

CONFIG = {"hsm_model": "general", "input_operator_count": 2, "output_operator_count": 1,
          "hilbert_space_dims": 3, "targets": "y", "epochs": 2, "batch_size": 32, "seed": 0,
          "optimizer_config": {"default_params": {"lr": 0.05}}}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hsm_cli")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(120, 2))
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": x[:, 0] * x[:, 1]}).to_csv(
        directory / "table.csv", index=False)
    (directory / "config.json").write_text(json.dumps(CONFIG))
    return directory


def _run(files, run_dir, *flags, config=None):
    if config is not None:
        (files / "other.json").write_text(json.dumps(config))
    arguments = [f"--data={files / 'table.csv'}",
                 f"--config={files / ('other.json' if config else 'config.json')}",
                 f"--run_dir={run_dir}", "--verbose=0", *flags]
    return subprocess.run([sys.executable, "-m", "tfqsr.hsm", *arguments], capture_output=True,
                          text=True, timeout=600)


def _assert_usage_error(result, run_dir, *phrases):
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")
    assert all(p in result.stderr for p in phrases), result.stderr
    assert not os.path.exists(run_dir)


def test_unknown_config_name_exits_2(files, tmp_path):
    result = subprocess.run([sys.executable, "-m", "tfqsr.hsm", "--data=sklearn:iris",
                             "--config=iris", f"--run_dir={tmp_path / 'run'}"],
                            capture_output=True, text=True, timeout=600)
    _assert_usage_error(result, tmp_path / "run", "--config must be a JSON file or one of "
                        "breast_cancer, diabetes, digits")


def test_invalid_config_field_exits_2(files, tmp_path):
    result = _run(files, tmp_path / "run", config={**CONFIG, "hilbert_space_dims": 1})
    _assert_usage_error(result, tmp_path / "run", "hilbert_space_dims", "greater than or equal to 2")


def test_operator_count_not_matching_the_data_exits_2(files, tmp_path):
    result = _run(files, tmp_path / "run", config={**CONFIG, "input_operator_count": 3})
    _assert_usage_error(result, tmp_path / "run", "input_operator_count must equal the number "
                        "of input features, 2, got 3")


@pytest.fixture(scope="module")
def finished_run(files, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("hsm_run") / "run"
    return _run(files, run_dir), run_dir


def test_run_writes_its_directory(finished_run):
    result, run_dir = finished_run
    assert result.returncode == 0, result.stderr
    assert "epoch 2: test" in result.stdout and "r2" in result.stdout
    for name in ("config.json", "metrics.jsonl", "test_metrics.json", "plots/loss.png",
                 "export/model.keras", "export/saved_model.pb", "checkpoints/checkpoint",
                 "checkpoints/best/checkpoint"):
        assert (run_dir / name).exists(), name
    assert json.loads((run_dir / "config.json").read_text())["data"].endswith("table.csv")
    assert set(json.loads((run_dir / "test_metrics.json").read_text())) == {"loss", "mse", "mae", "r2"}


def test_another_configuration_in_the_run_directory_is_refused(files, finished_run):
    _, run_dir = finished_run
    before = (run_dir / "metrics.jsonl").read_text()
    other = _run(files, run_dir, config={**CONFIG, "seed": 1})
    assert other.returncode == 2 and "differs in: seed" in other.stderr, other.stderr
    assert len(other.stderr.splitlines()) == 1
    assert (run_dir / "metrics.jsonl").read_text() == before


@pytest.mark.slow
def test_raising_epochs_continues_the_run(files, tmp_path):
    run_dir = tmp_path / "run"
    assert _run(files, run_dir).returncode == 0
    more = _run(files, run_dir, "--epochs=3")
    assert more.returncode == 0 and "(resume)" in more.stdout, more.stderr + more.stdout
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2, 3]


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_uninterrupted_result(files, tmp_path):
    import signal

    from tests.run_helpers import wait_for_metric_rows
    config = {**CONFIG, "epochs": 6, "batch_size": 8}
    (files / "long.json").write_text(json.dumps(config))
    arguments = [sys.executable, "-m", "tfqsr.hsm", f"--data={files / 'table.csv'}",
                 f"--config={files / 'long.json'}", "--verbose=0", "--noplot"]
    straight = subprocess.run([*arguments, f"--run_dir={tmp_path / 'straight'}"],
                              capture_output=True, text=True, timeout=600)
    assert straight.returncode == 0, straight.stderr
    run_dir = tmp_path / "interrupted"
    process = subprocess.Popen([*arguments, f"--run_dir={run_dir}"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    wait_for_metric_rows(process, run_dir, rows=2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    resumed = subprocess.run([*arguments, f"--run_dir={run_dir}"], capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0 and "(resume)" in resumed.stdout, resumed.stderr
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    expected = [json.loads(line) for line in
                (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert rows == expected
    assert (json.loads((run_dir / "test_metrics.json").read_text())
            == json.loads((tmp_path / "straight" / "test_metrics.json").read_text()))
