"""Starting and continuing QRNN runs from Python (the command line, ``python -m tfqsr.qrnn``,
uses the same functions):

    plan = check_run(QRNNConfig(dataset="dna", sentence_length=10, epochs=500), "runs/dna")
    outcome, epoch = train(plan)
    outcome, epoch = train(resume_plan("runs/dna/checkpoints/best/ckpt-200",
                                       {"learning_rate": 1e-3, "epochs": 1000}))

Validation (``check_run``, ``resume_plan``) imports no TensorFlow and writes nothing.
"""
import dataclasses
import os

from tfqsr.qrnn.config import OVERRIDES, RESUMABLE, QRNNConfig
from tfqsr.runtime import experiment
from tfqsr.runtime.rundir import CONFIG_FILE, read_config
from tfqsr.validation import ConfigError

# Global options a resume may change (the run's other settings are stored in it).
RESUME_CHANGES = RESUMABLE + ("num_shards",)


@dataclasses.dataclass(frozen=True)
class Plan:
    """A checked run, and for ``resume`` the checkpoint and learning rate to continue with."""
    run: experiment.RunPlan
    restore: str = None
    learning_rate: float = None


def check_run(config, run_dir=None, *, overwrite=False):
    """The ``Plan`` of a new (or re-run) training of ``config`` in ``run_dir`` (default
    runs/qrnn/<tag>-<seed>); ConfigError for invalid input. Writes nothing."""
    run_dir = run_dir or os.path.join("runs", "qrnn", f"{config.tag}-{config.seed}")
    return Plan(experiment.check_run(config, run_dir, overwrite=overwrite, resumable=RESUMABLE))


def locate(checkpoint):
    """(run directory, checkpoint prefix or None for the newest) of a resume argument."""
    if os.path.isdir(checkpoint) and os.path.exists(os.path.join(checkpoint, CONFIG_FILE)):
        return checkpoint, None
    if os.path.exists(checkpoint + ".index"):
        parent = os.path.dirname(os.path.abspath(checkpoint))
        for _ in range(3):
            if os.path.exists(os.path.join(parent, CONFIG_FILE)):
                return parent, checkpoint
            parent = os.path.dirname(parent)
    raise ConfigError(
        "CHECKPOINT must be a run directory (with config.json) or a checkpoint prefix inside "
        f"one, such as RUN/checkpoints/best/ckpt-40 (with a .index file), got {checkpoint!r}")


def resume_plan(checkpoint, changes=None):
    """The ``Plan`` that continues ``checkpoint`` (a run directory or a checkpoint prefix in
    one) with ``changes``: {field: value} of ``RESUME_CHANGES`` and ``OVERRIDES``; the changed
    configuration is validated, dataset constraints included. Writes nothing."""
    run_dir, restore = locate(checkpoint)
    changes = dict(changes or {})
    fixed = sorted(set(changes) - set(RESUME_CHANGES) - set(OVERRIDES))
    if fixed:
        raise ConfigError(f"--{fixed[0]} is stored in the run and cannot change on resume; "
                          f"only {', '.join('--' + n for n in RESUME_CHANGES)} and the overrides can")
    stored = read_config(run_dir)
    unknown = sorted(set(stored) - {f.name for f in dataclasses.fields(QRNNConfig)})
    if unknown:
        raise ConfigError(f"CHECKPOINT: {run_dir} is not a QRNN run (config.json has {unknown})")
    config = QRNNConfig(**{**stored, **changes}).validate()
    return Plan(experiment.RunPlan(config, run_dir, "resume"), restore,
                changes.get("learning_rate"))


def train(plan, *, verbose=1, distributed=None):
    """Train the checked ``plan`` (a ``Plan``); returns (outcome, epochs done)."""
    from tfqsr.qrnn.trainer import qrnn_experiment

    def build(config, distributed):
        return qrnn_experiment(config, distributed, restore=plan.restore,
                               learning_rate=plan.learning_rate)
    return experiment.run_experiment(plan.run, build, verbose=verbose, distributed=distributed)
