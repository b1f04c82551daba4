"""The start of every training run, shared by the entry points: validate, check and prepare the
run directory, seed, build, train, export.

    plan = check_run(config, run_dir, overwrite=False, resumable=("steps",))  # writes nothing
    outcome, step = run_experiment(plan, build, verbose=1)

``check_run`` is the validation: it resolves the configuration against the run it would resume
(unset fields keep the values that run stored), validates it and checks the run directory, without
TensorFlow and without writing anything, so it runs in an entry point's validation phase
(``tfqsr.runtime.cli``). ``run_experiment`` waits until every rank has checked, lets rank 0
create the run directory and store the resolved configuration, seeds Python, numpy and
TensorFlow with ``config.seed`` (the initial weights follow from it), calls the entry point's
``build(config, distributed)`` for an :class:`Experiment`, trains it and, once completed, has rank
0 export it to ``run_dir/export``.

A configuration is a frozen dataclass with ``resolve(previous)``, ``validate()`` (returning the
resolved configuration), ``to_dict()`` and a ``seed`` field: the pieces of ``tfqsr.vmc.config``.
"""
import dataclasses
import os
from typing import Any, Callable

from tfqsr.runtime.rundir import RunDirectoryError, check_run_dir, prepare_run_dir, read_config
from tfqsr.validation import ConfigError

EXPORT_DIR = "export"


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """A checked run: the resolved configuration, its directory and ``mode`` ("new", "resume"
    or "overwrite", from ``check_run_dir``)."""
    config: Any
    run_dir: str
    mode: str


@dataclasses.dataclass(frozen=True)
class Experiment:
    """What an entry point builds for a run.

    Attributes:
      fit: ``fit(run_dir, verbose)`` trains (resuming from the run directory's checkpoints) and
        returns ("completed" | "interrupted", last step), as ``runtime.training.train``.
      export: ``export(directory)`` writes the trained model; rank 0 calls it after a completed
        run. None: nothing to export.
      description: printed by rank 0 before training, with the run directory.
    """
    fit: Callable[[str, int], tuple]
    export: Callable[[str], None] = None
    description: str = ""


def check_run(config, run_dir, *, overwrite=False, resumable=(), defaults=None):
    """The :class:`RunPlan` of ``config`` in ``run_dir``; ConfigError for an invalid configuration
    or a run directory holding another configuration (unless ``overwrite``). Writes nothing.

    ``resumable``: fields that may differ from the stored run (e.g. the total steps, raised to
    continue it). ``defaults``: the values of fields an older run directory did not store (the
    options added since, which it ran with); default: the resolved defaults of the class.
    """
    if defaults is None:
        defaults = type(config)().validate().to_dict()
    stored = None if overwrite else read_config(run_dir)
    config = config.resolve(None if stored is None else {**defaults, **stored}).validate()
    try:
        mode = check_run_dir(run_dir, config.to_dict(), overwrite, resumable, defaults=defaults)
    except RunDirectoryError as error:
        raise ConfigError(f"--run_dir: {error}") from None
    return RunPlan(config, run_dir, mode)


def run_experiment(plan, build, *, verbose=1, distributed=None):
    """Prepare the run directory of ``plan`` (rank 0), seed, ``build(config, distributed)``, train
    and export (module docstring). Returns ("completed" | "interrupted", last step)."""
    import keras
    from tfqsr.runtime.distributed import Distributed

    distributed = distributed or Distributed()
    distributed.barrier()  # every rank has checked run_dir before rank 0 writes into it
    if distributed.is_chief:
        prepare_run_dir(plan.run_dir, plan.config.to_dict(), plan.mode)
    keras.utils.set_random_seed(plan.config.seed)
    experiment = build(plan.config, distributed)
    if distributed.is_chief:
        print(f"{experiment.description}; run directory {plan.run_dir} ({plan.mode})", flush=True)
    outcome, step = experiment.fit(plan.run_dir, verbose)
    if outcome == "completed" and distributed.is_chief and experiment.export is not None:
        experiment.export(os.path.join(plan.run_dir, EXPORT_DIR))
    return outcome, step
