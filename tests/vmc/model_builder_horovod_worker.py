"""One rank of ``tests/test_model_builder.py::test_horovod_ranks_train_equal_models``:

    horovodrun -np 2 -H localhost:2 --gloo python tests/vmc/model_builder_horovod_worker.py OUT

trains the model_builder configuration below on two ranks through the entry point's own
``run_experiment`` in the shared run directory OUT/run (rank 0 writes it), then every rank
exports the model it ended with to OUT/rank<r> (outside the run directory), so the test can
compare the ranks' weights.
"""
import os
import sys

from tfqsr.model_builder import check
from tfqsr.runtime import experiment
from tfqsr.runtime.distributed import Distributed
from tfqsr.vmc.lattice_config import ModelBuilderConfig
from tfqsr.vmc.trainer import vmc_experiment

CONFIG = ModelBuilderConfig(L=9, model="rnn", patch="3", Nh=8, K=8, Q=2, NLOOPS=3, steps=4, lr=0.01,
                            checkpoint_every=2)


def main(out):
    distributed = Distributed(use_horovod=True)
    assert distributed.size == 2, distributed.size
    built = []

    def build(config, distributed):
        built.append(vmc_experiment(config, distributed))
        return built[-1]

    plan = check(CONFIG, os.path.join(out, "run"))
    outcome = experiment.run_experiment(plan, build, verbose=0, distributed=distributed)
    assert outcome == ("completed", 4), outcome
    built[0].export(os.path.join(out, f"rank{distributed.rank}"))


if __name__ == "__main__":
    main(sys.argv[1])
