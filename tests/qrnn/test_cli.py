"""``python -m tfqsr.qrnn``: the original RVQE command line (global options before the
subcommand, hyphenated names) validates unchanged; bad input is one line and exit code 2 with
nothing written (each case its own test); a tiny run trains and resumes from its best
checkpoint with an override; ``--num-shards 2`` starts two Horovod processes (slow)."""
import json
import os
import subprocess
import sys

import pytest

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
