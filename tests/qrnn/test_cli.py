"""``python -m tfqsr.qrnn``: the original RVQE command line (global options before the
subcommand, hyphenated names) validates unchanged; bad input is one line and exit code 2 with
nothing written (each case its own test); a tiny run trains and resumes from its best
checkpoint with an override; a run stopped by SIGTERM while it trains and resumed ends with the
parameters of an uninterrupted run; ``--num-shards 2`` starts two Horovod processes (slow)."""
import json
import os
import signal
import subprocess
import sys

import pytest

from tests.run_helpers import wait_for_metric_rows

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    p for p in (REPO, os.environ.get("PYTHONPATH")) if p)}
TINY = ["--epochs", "2", "--nojit-compile", "train", "--dataset", "simple-seq",
        "--sentence-length", "4", "--workspace", "1", "--stages", "1", "--order", "1",
        "--degree", "1", "--batch-size", "2", "--learning-rate", "0.05", "--validate-every", "1"]


def _run(*args, cwd, timeout=600):
    return subprocess.run([sys.executable, "-m", "tfqsr.qrnn", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_original_command_line_is_accepted(tmp_path):
    result = _run("--tag", "experiment-test", "--seed", "42", "--port", "20023",
                  "--num-shards", "2", "--epochs", "10000", "train", "--dataset", "digits36",
                  "--workspace", "6", "--stages", "2", "--order", "2", "--degree", "3",
                  "--optimizer", "adam", "--learning-rate", "0.005", "--batch-size", "16",
                  "--only_check_args", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert os.listdir(tmp_path) == []


def _error(tmp_path, *args):
    result = _run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert os.listdir(tmp_path) == [], "nothing is written on a usage error"
    return lines[0]


def test_dataset_constraint_on_shards_and_batch(tmp_path):
    assert _error(tmp_path, "--num-shards", "2", "train", "--batch-size", "2") == (
        "error: (--num_shards, --batch_size) must be one of [(2, 1), (1, 2)] for simple-seq, "
        "got (2, 2)")


def test_unknown_option(tmp_path):
    assert _error(tmp_path, "train", "--work-space", "3").startswith(
        "error: Unknown command line flag 'work_space'")


def test_missing_command(tmp_path):
    assert _error(tmp_path, "--epochs", "3") == "error: a command is required: one of train, resume"


def test_resume_needs_a_run_or_checkpoint(tmp_path):
    assert _error(tmp_path, "resume", "nowhere/ckpt-3").startswith(
        "error: CHECKPOINT must be a run directory (with config.json) or a checkpoint prefix")


def test_resume_takes_its_run_from_the_checkpoint(tmp_path):
    assert _error(tmp_path, "resume", "somewhere", "--run-dir", "other").startswith(
        "error: --run_dir does not apply to resume")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cli")
    result = _run("--tag", "tiny", "--seed", "3", *TINY, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return cwd, cwd / "runs" / "qrnn" / "tiny-3"


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_train_writes_the_default_run_directory(run):
    _, run_dir = run
    assert [row["epoch"] for row in _rows(run_dir)] == [1, 2]
    assert json.loads((run_dir / "config.json").read_text())["tag"] == "tiny"
    assert (run_dir / "plots" / "training.png").exists()
    samples = (run_dir / "samples.txt").read_text().splitlines()
    assert samples[0] == "epoch 1" and samples[1].startswith("  gold ") and len(samples) == 10


@pytest.mark.slow
def test_resume_changing_the_seed_is_refused(run, tmp_path):
    _, run_dir = run
    assert _error(tmp_path, "--seed", "4", "resume", str(run_dir)).startswith(
        "error: --seed is stored in the run and cannot change on resume")


@pytest.mark.slow
def test_resume_from_best_checkpoint_with_overrides(run):
    cwd, run_dir = run
    best = sorted(p.name[:-6] for p in (run_dir / "checkpoints" / "best").glob("*.index"))[-1]
    result = _run("--epochs", "3", "resume", str(run_dir / "checkpoints" / "best" / best),
                  "--override-learning-rate", "0.2", cwd=cwd)
    assert result.returncode == 0, result.stderr
    rows = _rows(run_dir)
    assert [row["epoch"] for row in rows][-1] == 3 and rows[-1]["learning_rate"] == pytest.approx(0.2)


@pytest.mark.slow
def test_num_shards_starts_horovod_processes(tmp_path):
    pytest.importorskip("horovod.tensorflow")
    args = [a if a != "2" or i != 1 else "2" for i, a in enumerate(TINY)]
    batch = args.index("--batch-size") + 1
    args[batch] = "1"
    result = _run("--num-shards", "2", "--run-dir", "run", *args, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = _rows(tmp_path / "run")
    assert [row["epoch"] for row in rows] == [1, 2]
    assert result.stdout.count("QRNN on simple-seq") == 1  # rank 0 alone reports


def _start(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "tfqsr.qrnn", *args], cwd=cwd, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _exported_weights(run_dir):
    import keras

    import tfqsr.qrnn.model  # noqa: F401  (registers the layers)
    model = keras.models.load_model(run_dir / "export" / "model.keras")
    return [w.numpy() for w in model.weights]


@pytest.mark.slow
def test_sigterm_while_training_then_resume_equals_uninterrupted_run(tmp_path):
    """SIGTERM arrives while an epoch trains (after the third epoch's row): the run finishes
    that step, checkpoints (the only checkpoint: --checkpoint-every is beyond the run) and
    exits 130; ``resume RUN`` continues from there to the same parameters and losses as an
    uninterrupted run of the same command, started beside it."""
    import numpy as np
    args = [*TINY, "--validate-every", "5"]
    args[args.index("--epochs") + 1] = "40"
    straight = _start("--checkpoint-every", "1000", "--run-dir", "straight", *args, cwd=tmp_path)
    interrupted = _start("--checkpoint-every", "1000", "--run-dir", "split", *args, cwd=tmp_path)
    wait_for_metric_rows(interrupted, tmp_path / "split", rows=3, timeout=600, poll=0.02)
    assert interrupted.poll() is None, interrupted.communicate()
    interrupted.send_signal(signal.SIGTERM)
    out, err = interrupted.communicate(timeout=600)
    assert interrupted.returncode == 130, err
    stopped = len(_rows(tmp_path / "split"))
    assert 3 <= stopped < 40 and f"interrupted after epoch {stopped}" in out
    assert not (tmp_path / "split" / "export").exists()
    resumed = _run("resume", "split", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    out, err = straight.communicate(timeout=600)
    assert straight.returncode == 0, err
    rows = [_rows(tmp_path / name) for name in ("straight", "split")]
    assert [r["epoch"] for r in rows[1]] == list(range(1, 41))
    assert [r["loss"] for r in rows[0]] == [r["loss"] for r in rows[1]]
    for a, b in zip(*(_exported_weights(tmp_path / name) for name in ("straight", "split")),
                    strict=True):
        np.testing.assert_array_equal(a, b)
