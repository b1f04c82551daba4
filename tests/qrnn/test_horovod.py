"""``--num-shards 2`` under real Horovod (``horovodrun -np 2 --gloo``, slow): after training,
both ranks hold the same parameters, with Adam and with L-BFGS (whose up to 20 closure
evaluations per step average over the shards too). With Adam they are those of one process
training on both sequences at once (simple-seq: shard s reads sequence s; the averaged,
clipped gradient is the gradient of the mean over both). L-BFGS's 20 iterations per batch
amplify the float32 rounding of the two ways of summing (after one step the losses differ in
the third digit, after four the parameters by whole turns), so there the first evaluation is
compared. Worker: tests/qrnn/horovod_worker.py."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(REPO, "tests", "qrnn", "horovod_worker.py")
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    p for p in (REPO, os.environ.get("PYTHONPATH")) if p), "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
EPOCHS = 4


def _weights(directory):
    import keras

    import tfqsr.qrnn.model  # noqa: F401  (registers the layers)
    model = keras.models.load_model(os.path.join(directory, "model.keras"))
    return [w.numpy() for w in model.weights]


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_two_shards_keep_ranks_equal_and_equal_one_process(optimizer, tmp_path):
    pytest.importorskip("horovod.tensorflow")
    command = [sys.executable, "-m", "horovod.runner.launch", "-np", "2", "-H", "localhost:2",
               "--gloo", sys.executable, WORKER, str(tmp_path / "run"), str(tmp_path / "out"),
               str(EPOCHS), optimizer]
    result = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    ranks = [_weights(tmp_path / "out" / f"rank{r}") for r in (0, 1)]
    for a, b in zip(*ranks, strict=True):
        np.testing.assert_array_equal(a, b)
    single = subprocess.run([sys.executable, WORKER, str(tmp_path / "one"),
                             str(tmp_path / "one-out"), str(EPOCHS), optimizer],
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=900)
    assert single.returncode == 0, single.stderr[-4000:]
    exported = _weights(tmp_path / "run" / "export")  # what the run itself exported (rank 0)
    assert all(np.array_equal(a, b) for a, b in zip(exported, ranks[0]))
    one = _weights(tmp_path / "one-out" / "rank0")
    first = [_rows(tmp_path / name)[0] for name in ("run", "one")]
    for key in ("loss", "grad_norm"):
        assert first[0][key] == pytest.approx(first[1][key], rel=1e-6)
    if optimizer == "adam":
        for a, b in zip(ranks[0], one, strict=True):  # up to the order of float32 sums
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    else:
        evaluations = _checkpoint_value(tmp_path / "run", "func_evals")
        assert EPOCHS < evaluations <= 20 * EPOCHS  # the closure ran under Horovod


def _rows(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def _checkpoint_value(run_dir, part):
    import tensorflow as tf
    path = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    name, = [n for n, _ in tf.train.list_variables(path) if part in n]
    return tf.train.load_checkpoint(path).get_tensor(name)
