"""One rank of ``tests/test_model_builder.py::test_horovod_ranks_train_equal_models``:

    horovodrun -np 2 -H localhost:2 --gloo python tests/vmc/model_builder_horovod_worker.py OUT

trains the model_builder configuration below on two ranks through the entry point's own
``run_experiment`` in the shared run directory OUT/run (rank 0 writes it), then every rank
exports the model it ended with to OUT/rank<r> (outside the run directory), so the test can
compare the ranks' weights (tests/horovod_worker_support.py).
"""
import sys

from tests.horovod_worker_support import train_on_two_ranks
from tfqsr.model_builder import check
from tfqsr.vmc.lattice_config import ModelBuilderConfig
from tfqsr.vmc.trainer import vmc_experiment

CONFIG = ModelBuilderConfig(L=9, model="rnn", patch="3", Nh=8, K=8, Q=2, NLOOPS=3, steps=4, lr=0.01,
                            checkpoint_every=2)


def build(config, distributed):
    built = vmc_experiment(config, distributed)
    return built, built


if __name__ == "__main__":
    train_on_two_ranks(sys.argv[1], CONFIG, check=check, build=build, steps=4,
                       save=lambda built, path: built.export(path))
