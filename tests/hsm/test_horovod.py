"""``horovodrun -np 2 python -m tfqsr.hsm``: data-parallel training equals one process with
the global batch (each rank reads half of every global batch, gradients averaged, ranks equal).
Slow (two command-line runs, about a minute on 2 cores); skipped without Horovod."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("horovod.tensorflow", reason="Horovod is not installed")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = {"hsm_model": "general", "input_operator_count": 30, "output_operator_count": 2,
          "hilbert_space_dims": 4, "targets": "target", "epochs": 2, "seed": 0,
          "loss_function_config": {"type": "CrossEntropyLoss"},
          "optimizer_config": {"default_params": {"lr": 0.01}}}


def _env():
    path = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_ranks_equal_one_process_with_the_global_batch(tmp_path):
    runs = {}
    for ranks, batch in ((1, 32), (2, 16)):
        config = tmp_path / f"config{ranks}.json"
        config.write_text(json.dumps({**CONFIG, "batch_size": batch}))
        run_dir = tmp_path / f"run{ranks}"
        launcher = ([sys.executable, "-m", "horovod.runner.launch", "-np", "2", "-H",
                     "localhost:2", "--gloo"] if ranks == 2 else [])
        result = subprocess.run(
            [*launcher, sys.executable, "-m", "tfqsr.hsm", "--data=sklearn:breast_cancer",
             f"--config={config}", f"--run_dir={run_dir}", "--verbose=0", "--noplot"],
            env=_env(), capture_output=True, text=True, timeout=900, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[ranks] = run_dir
    one, two = _rows(runs[1]), _rows(runs[2])
    assert [r["epoch"] for r in two] == [1, 2]
    for a, b in zip(one, two):
        for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
            np.testing.assert_allclose(b[key], a[key], rtol=1e-4, err_msg=key)
    metrics = [json.loads((runs[r] / "test_metrics.json").read_text()) for r in (1, 2)]
    np.testing.assert_allclose(metrics[1]["loss"], metrics[0]["loss"], rtol=1e-4)
