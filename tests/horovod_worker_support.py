"""The common part of the Horovod test workers that train one system on two ranks through
``runtime.experiment.run_experiment`` (tests/l2hmc/su3_horovod_worker.py,
tests/vmc/model_builder_horovod_worker.py). Each is run by its slow test as

    horovodrun -np 2 -H localhost:2 --gloo python tests/<system>/<name>_worker.py OUT

trains its configuration in the shared run directory OUT/run (rank 0 writes it), then every rank
saves what it ended with under OUT/rank<r> (a file OUT/rank<r>.npz or a directory, outside the run
directory), so the test can compare the ranks. The worker keeps its configuration, how to build
and how to save; this module the ranks, the run and where each rank's result goes.
"""
import os

from tfqsr.runtime import experiment
from tfqsr.runtime.distributed import Distributed


def train_on_two_ranks(out, config, *, check, build, steps, save):
    """Run ``config`` on this rank of two (asserted) and save this rank's result.

    Args:
      out: the directory OUT of the test.
      config: the configuration of the run.
      check: ``check(config, run_dir)`` -> the plan (``experiment.check_run`` or an entry
        point's own check).
      build: ``build(config, distributed)`` -> (what the rank keeps for ``save``, the
        ``Experiment`` that ``run_experiment`` runs).
      steps: the step the run must complete at.
      save: ``save(kept, path)`` writes the rank's result; path is OUT/rank<r> (without an
        extension).
    """
    distributed = Distributed(use_horovod=True)
    assert distributed.size == 2, distributed.size
    kept = []

    def build_experiment(config, distributed):
        result, built = build(config, distributed)
        kept.append(result)
        return built

    plan = check(config, os.path.join(out, "run"))
    outcome = experiment.run_experiment(plan, build_experiment, verbose=0, distributed=distributed)
    assert outcome == ("completed", steps), outcome
    save(kept[0], os.path.join(out, f"rank{distributed.rank}"))
