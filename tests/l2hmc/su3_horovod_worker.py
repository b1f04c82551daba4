"""One rank of ``tests/l2hmc/test_su3_sampler.py::test_two_horovod_ranks_train_equal_su3_samplers``:

    horovodrun -np 2 -H localhost:2 --gloo python tests/l2hmc/su3_horovod_worker.py OUT

trains the tiny SU(3) configuration below (2^4, fp64, one leapfrog step) on two ranks through
``run_experiment`` in the shared run directory OUT/run (rank 0 writes it); then every rank saves
the dynamics' weights, the Adam state and the global chains it ended with to OUT/rank<r>.npz, so
the test can compare the ranks (tests/horovod_worker_support.py).
"""
import sys

import numpy as np

from tests.horovod_worker_support import train_on_two_ranks
from tfqsr.l2hmc.config import L2HMCConfig
from tfqsr.l2hmc.trainer import build_trainer, trainer_experiment
from tfqsr.runtime import experiment

CONFIG = L2HMCConfig(group="su3", nt=2, nx=2, beta_init=5.0, beta_final=5.0, eras=1,
                     steps_per_era=3, chains=4, nleapfrog=1, units=(8,), lr=1e-3,
                     precision="fp64", checkpoint_every=2, seed=5)


def build(config, distributed):
    trainer = build_trainer(config, distributed)
    return trainer, trainer_experiment(trainer)


def save(trainer, path):
    arrays = {f"dynamics_{i}": v.numpy() for i, v in enumerate(trainer.dynamics.variables)}
    arrays.update({f"adam_{i}": np.asarray(v.numpy())
                   for i, v in enumerate(trainer.optimizer.variables)})
    arrays["chains"] = trainer.chains.numpy()
    np.savez(f"{path}.npz", **arrays)


if __name__ == "__main__":
    train_on_two_ranks(sys.argv[1], CONFIG, check=experiment.check_run, build=build, steps=3,
                       save=save)
