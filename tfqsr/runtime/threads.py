"""TensorFlow's CPU thread pools, set once per process before any op runs.

tfqsr's models run many small, independent ops: the recomputation groups of
``log_psi_connected``, per-layer einsums over a few thousand rows. Running one thread per op
with as many ops in flight as cores beats TensorFlow's default, where every op is split over
all cores. Measured on 2 cores:

  * log psi of connected configurations, N = 100: 6,230 against 4,580 configurations/s;
  * a VMC step at N = 20, batch 512: Adam 0.29 s against 0.34 s, minSR 0.24 s against 0.32 s;
  * the full N = 100 analysis (benchmarks/bench_analysis.py): 113 s against 128 s.

Under Horovod the cores of a node are divided among its processes.
"""
import os

from absl import flags

from tfqsr.validation import require


def define_flags():
    """The two flags every entry point takes (``tfqsr.runtime.cli`` defines them)."""
    flags.DEFINE_integer("intra_op_threads", 1,
                         "Threads per TensorFlow op (0: TensorFlow's default, all cores).")
    flags.DEFINE_integer("inter_op_threads", 0,
                         "TensorFlow ops run concurrently (0: the cores divided among the "
                         "processes of this node).")


def check(intra_op, inter_op):
    """Raise ConfigError (naming the flag) unless both thread counts are integers >= 0."""
    for name, value in (("intra_op_threads", intra_op), ("inter_op_threads", inter_op)):
        require(value >= 0, name, "an integer >= 0 (0: automatic)", value)


def configure(intra_op=1, inter_op=0):
    """Set the pools: ``intra_op`` threads per op (0: TensorFlow's default) and ``inter_op`` ops
    in flight (0: usable cores / processes on this node). Must run before TensorFlow runs an op."""
    import tensorflow as tf
    if inter_op == 0:
        inter_op = max(1, len(os.sched_getaffinity(0)) // local_process_count())
    tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op)


def local_process_count():
    """Processes on this node: Horovod's (Gloo or MPI launcher) local size, else 1."""
    for name in ("HOROVOD_LOCAL_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE"):
        if os.environ.get(name):
            return int(os.environ[name])
    return 1
