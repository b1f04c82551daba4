"""The one-process fallback of tfqsr.runtime.distributed: same interface, identity collectives,
and train_decoder running with Horovod absent."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfqsr.runtime.distributed import Distributed


@pytest.fixture
def without_horovod(monkeypatch):
    """Make ``import horovod.tensorflow`` fail in this process, as when it is not installed."""
    monkeypatch.setitem(sys.modules, "horovod", None)
    monkeypatch.setitem(sys.modules, "horovod.tensorflow", None)


def test_one_process_has_rank_0_of_1_and_is_the_chief():
    distributed = Distributed(use_horovod=False)
    assert (distributed.rank, distributed.size, distributed.local_rank) == (0, 1, 0)
    assert distributed.is_chief


def test_auto_outside_horovodrun_is_one_process():
    assert Distributed().size == 1  # with Horovod installed or not


def test_collectives_are_identities():
    distributed = Distributed(use_horovod=False, compression="fp16")
    tensors = [tf.constant([1.0, 2.0], tf.float64), tf.constant(3, tf.int32)]
    sparse = tf.IndexedSlices(tf.ones([1, 2]), tf.constant([1]), tf.constant([3, 2]))
    for got, want in zip(distributed.allreduce_mean(tensors), tensors, strict=True):
        np.testing.assert_array_equal(got, want)
    averaged = distributed.average_gradients([tensors[0], sparse])
    np.testing.assert_array_equal(averaged[0], tensors[0])  # not compressed in one process
    assert averaged[1] is sparse
    np.testing.assert_array_equal(distributed.allgather(tensors[0]), tensors[0])
    distributed.barrier()


def test_broadcast_leaves_variables_unchanged():
    variable = tf.Variable([1.5, -2.0])
    Distributed(use_horovod=False).broadcast_variables([variable])
    np.testing.assert_array_equal(variable.numpy(), [1.5, -2.0])


def test_fold_rank_is_rank_0s_stream():
    seed = tf.constant([3, 4], tf.int64)
    np.testing.assert_array_equal(Distributed(use_horovod=False).fold_rank(seed),
                                  tf.random.experimental.stateless_fold_in(seed, 0))


def test_required_horovod_that_is_missing_is_a_clear_error(without_horovod):
    with pytest.raises(RuntimeError, match="launch/install_horovod.sh"):
        Distributed(use_horovod=True)


def test_auto_without_horovod_is_one_process(without_horovod):
    assert Distributed(use_horovod="auto").size == 1


@pytest.mark.parametrize("kwargs,named", [
    ({"use_horovod": "yes"}, "use_horovod"), ({"compression": "int8"}, "compression")])
def test_bad_arguments_are_named(kwargs, named):
    with pytest.raises(ValueError, match=named):
        Distributed(**kwargs)


def test_train_decoder_runs_without_horovod(tmp_path):
    run_dir = tmp_path / "run"
    argv = ["train_decoder", "-s", "4", "--steps", "2", "--batch_size", "16", "-h", "2",
            "--d_model", "8", "-r", "1", "-c", "2", "--verbose", "0", f"--run_dir={run_dir}"]
    script = ("import runpy, sys\n"
              "sys.modules['horovod'] = sys.modules['horovod.tensorflow'] = None\n"
              f"sys.argv = {argv!r}\n"
              "runpy.run_module('tfqsr.train_decoder', run_name='__main__')\n")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(run_dir / "metrics.jsonl") as f:
        assert [json.loads(line)["step"] for line in f] == [1, 2]
    assert (run_dir / "export" / "model.keras").exists()
