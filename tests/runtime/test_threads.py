"""Thread pools are set before TensorFlow runs an op (a fresh process each)."""
import os
import subprocess
import sys

import pytest

PROBE = ("from tfqsr.runtime import threads; threads.configure({intra}, {inter}); "
         "import tensorflow as tf; tf.constant(1.0) + 1.0; "
         "print(tf.config.threading.get_intra_op_parallelism_threads(), "
         "tf.config.threading.get_inter_op_parallelism_threads())")


@pytest.mark.parametrize("intra,inter,local_size,expected", [
    (1, 0, None, (1, len(os.sched_getaffinity(0)))),
    (1, 0, "2", (1, max(1, len(os.sched_getaffinity(0)) // 2))),
    (0, 3, None, (0, 3)),
])
def test_configure_sets_the_pools(intra, inter, local_size, expected):
    env = {k: v for k, v in os.environ.items() if k != "HOROVOD_LOCAL_SIZE"}
    if local_size:
        env["HOROVOD_LOCAL_SIZE"] = local_size
    result = subprocess.run([sys.executable, "-c", PROBE.format(intra=intra, inter=inter)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert tuple(int(v) for v in result.stdout.split()) == expected
