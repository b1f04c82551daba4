"""Two ranks under ``horovodrun -np 2 -H localhost:2 --gloo``: real Horovod, real training.

Three jobs (about 80 s together on 2 cores): the Python-API worker (tests/runtime/horovod_worker.py)
in shared run directories, the train_decoder command line with each rank in its own working
directory and a relative --run_dir (so whatever rank 1 writes would land in a directory that
must stay empty), and an interrupted command-line run. Skipped only when Horovod is not
importable; install it with ``bash launch/install_horovod.sh``.
"""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.run_helpers import wait_for_metric_rows

pytest.importorskip("horovod.tensorflow",
                    reason="Horovod is not installed: run `bash launch/install_horovod.sh`")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(REPO, "tests", "runtime", "horovod_worker.py")
HOROVODRUN = [sys.executable, "-m", "horovod.runner.launch", "-np", "2", "-H", "localhost:2", "--gloo"]
CLI = [sys.executable, "-m", "tfqsr.train_decoder", "-s", "6", "--batch_size", "32", "-w", "4",
       "--lr", "0.01", "-h", "2", "--d_model", "8", "-r", "1", "--verbose", "2"]


def _env():
    """This checkout's tfqsr on every rank; one TensorFlow thread per rank on a shared CPU."""
    path = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def _horovodrun(*command, cwd):
    result = subprocess.run([*HOROVODRUN, *command], cwd=cwd, env=_env(), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, _rank_lines(result.stdout + result.stderr)
    return result


def _rank_lines(output):
    """The last lines the ranks printed (horovodrun prefixes them with [rank])."""
    return "\n".join(line for line in output.splitlines() if line.startswith("["))[-4000:]


def _rows(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def _files(directory):
    return sorted(os.path.relpath(os.path.join(root, name), directory)
                  for root, _, names in os.walk(directory) for name in names)


# --- the Python API: VMCTrainer in shared run directories --------------------------------

@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    out = tmp_path_factory.mktemp("worker")
    _horovodrun(sys.executable, WORKER, str(out), cwd=out)
    return out, [dict(np.load(out / f"rank{r}.npz")) for r in range(2)]


def _group(dump, prefix):
    return [dump[f"{prefix}/{i}"] for i in range(sum(k.startswith(prefix + "/") for k in dump))]


def test_ranks_end_with_bitwise_identical_parameters(worker):
    _, (rank0, rank1) = worker
    for prefix in ("straight", "resumed"):  # model and optimizer variables
        for i, (a, b) in enumerate(zip(_group(rank0, prefix), _group(rank1, prefix), strict=True)):
            np.testing.assert_array_equal(a, b, err_msg=f"{prefix} variable {i}")


def test_every_rank_resumes_from_the_checkpoint_to_the_uninterrupted_result(worker):
    _, (rank0, rank1) = worker
    for dump in (rank0, rank1):
        for a, b in zip(_group(dump, "straight"), _group(dump, "resumed"), strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(rank0["generator"], rank1["generator"])


def test_ranks_draw_different_samples_and_agree_on_the_global_energy(worker):
    _, (rank0, rank1) = worker
    assert not np.array_equal(rank0["samples"], rank1["samples"])
    assert rank0["energy"] == rank1["energy"]


def _single_process_gradient(rank0, rank1):
    """The gradient of the concatenated batch in this process, at the ranks' weights."""
    import tensorflow as tf
    from tfqsr.runtime.distributed import Distributed
    from tfqsr.vmc import energy_statistics
    sys.path.insert(0, os.path.dirname(WORKER))
    try:
        import horovod_worker
    finally:
        sys.path.pop(0)
    x = np.concatenate([rank0["x"], rank1["x"]])
    np.testing.assert_array_equal(x, horovod_worker.fixed_batch())
    trainer = horovod_worker.build_trainer(Distributed(use_horovod=False), init_seed=0)
    for variable, value in zip(trainer.model.trainable_variables, _group(rank0, "weights"), strict=True):
        variable.assign(value)
    e_loc = trainer.local_energies(x)
    energy = energy_statistics(e_loc)[0]
    return [tf.convert_to_tensor(g).numpy() for g in trainer.gradients(x, e_loc, energy)]


def test_averaged_gradient_equals_the_gradient_of_the_concatenated_batch(worker):
    _, (rank0, rank1) = worker
    for a, b in zip(_group(rank0, "grad"), _group(rank1, "grad"), strict=True):
        np.testing.assert_array_equal(a, b)
    expected = _single_process_gradient(rank0, rank1)
    scale = max(np.abs(g).max() for g in expected)
    # float32: the two half-batch means are summed in another order than the full mean.
    for i, (got, want) in enumerate(zip(_group(rank0, "grad"), expected, strict=True)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * scale, err_msg=f"gradient {i}")
    # fp16 on the wire: 11 significant bits, so 2^-10 of the largest entry.
    fp16 = _group(rank0, "grad_fp16")
    assert any(not np.array_equal(a, b) for a, b in zip(fp16, expected))
    for i, (got, want) in enumerate(zip(fp16, expected, strict=True)):
        np.testing.assert_allclose(got, want, rtol=2.0 ** -10, atol=2.0 ** -10 * scale,
                                   err_msg=f"fp16 gradient {i}")


def test_only_rank_0_writes_into_a_shared_run_directory(worker):
    out, (rank0, rank1) = worker
    for run_dir in ("straight", "resumed"):
        assert [r["step"] for r in _rows(out / run_dir)] == [1, 2, 3, 4]
    files = _files(out / "straight") + _files(out / "resumed")
    events = [name for name in files if name.startswith("events/")]
    assert len(events) == 3, files  # one per fit, each named after the writing process
    assert all(f".{rank0['pid']}." in name for name in events), (rank0["pid"], events)
    assert not any(str(rank1["pid"]) in name for name in files), (rank1["pid"], files)


# --- the command line ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """train_decoder with rank r in base/rank<r> and --run_dir=run (relative)."""
    base = tmp_path_factory.mktemp("cli")
    for rank in range(2):
        (base / f"rank{rank}").mkdir()
    in_rank_dir = ["sh", "-c", 'cd "$0/rank$HOROVOD_RANK" && exec "$@"', str(base)]
    result = _horovodrun(*in_rank_dir, *CLI, "--steps", "4", "--checkpoint_every", "2",
                         "--run_dir=run", cwd=base)
    return base, result


def test_cli_rank_1_writes_nothing(cli_run):
    base, _ = cli_run
    assert _files(base / "rank1") == [] and os.listdir(base / "rank1") == []


def test_cli_run_directory_is_complete_and_logged_once(cli_run):
    base, result = cli_run
    run_dir = base / "rank0" / "run"
    files = _files(run_dir)
    for name in ("config.json", "metrics.jsonl", "checkpoints/checkpoint", "checkpoints/ckpt-4.index",
                 "export/saved_model.pb", "export/model.keras", "export/model.json"):
        assert name in files, (name, files)
    assert len([f for f in files if f.startswith("events/")]) == 1, files
    assert not [f for f in files if ".tmp" in f], files
    rows = _rows(run_dir)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(isinstance(r["energy"], float) and isinstance(r["relative_error"], float) for r in rows)
    assert json.load(open(run_dir / "config.json"))["batch_size"] == 32  # per rank
    assert result.stdout.count("step 4: energy") == 1  # the summary, from rank 0 only
    assert "[1]<stdout>:step" not in result.stdout


def test_sigterm_to_horovodrun_stops_every_rank_after_a_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen([*HOROVODRUN, *CLI, "--steps", "500", "--checkpoint_every", "100",
                                f"--run_dir={run_dir}"], cwd=tmp_path, env=_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_metric_rows(process, run_dir)
    process.send_signal(signal.SIGTERM)  # what Slurm or Ctrl-C does to horovodrun
    output, _ = process.communicate(timeout=120)
    assert "interrupted after step" in output, _rank_lines(output)
    steps = [r["step"] for r in _rows(run_dir)]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) < 500
    assert _files(run_dir / "checkpoints") == sorted(
        ["checkpoint", f"ckpt-{steps[-1]}.index", f"ckpt-{steps[-1]}.data-00000-of-00001"])
