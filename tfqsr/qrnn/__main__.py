"""python -m tfqsr.qrnn [global options] train [options] | resume CHECKPOINT [overrides]

The command line of RVQE's ``main.py`` works unchanged: global options before the subcommand,
hyphenated names (``--num-shards 2``, ``--learning-rate 0.005``); underscore names, absl's
``--name=value`` and presets (``--flagfile=flags/qrnn/dna.flags``; a preset names its
subcommand on a line of its own) work too. Every option is validated before anything runs (one
line ``error: ...``, exit code 2, nothing written).

    train    a new run in --run_dir (default runs/qrnn/<tag>-<seed>); the same command again
             resumes it, another configuration there is refused unless --overwrite
    resume   CHECKPOINT: a run directory (its newest checkpoint) or a checkpoint prefix such as
             RUN/checkpoints/best/ckpt-40; --override-learning-rate, --override-batch-size
             (checked against the dataset's constraints), and the global --epochs, --timeout,
             --stop-at-loss, --num-shards, --num-validation-samples, --checkpoint-every

``--num-shards N`` runs N Horovod processes: started by this command (horovodrun's launcher,
gloo, on this host) unless it already runs under ``horovodrun -np N``.

From Python: ``tfqsr.qrnn.runs`` (``check_run``, ``resume_plan``, ``train``).
"""
import dataclasses
import os
import subprocess
import sys

from absl import flags

from tfqsr.qrnn.config import OVERRIDES, QRNNConfig
from tfqsr.qrnn.runs import check_run, resume_plan, train
from tfqsr.runtime import cli
from tfqsr.validation import ConfigError

FLAGS = flags.FLAGS
DEFAULTS = QRNNConfig()
GLOBAL = ("tag", "seed", "port", "num_shards", "num_validation_samples", "epochs", "timeout",
          "stop_at_loss", "checkpoint_every", "jit_compile")
TRAIN = tuple(f.name for f in dataclasses.fields(QRNNConfig) if f.name not in GLOBAL)
HELP = {
    "tag": "Name of the run (the default run directory is runs/qrnn/<tag>-<seed>).",
    "seed": "Random seed of the initial parameters, the data and the measurements.",
    "port": "Accepted for the original's command line; Horovod chooses its own ports.",
    "num_shards": "Horovod processes; each draws its own batch, gradients are averaged.",
    "num_validation_samples": "Validation sequences written to samples.txt at each validation.",
    "epochs": "Total epochs (one batch per shard each); raise it to continue a run.",
    "timeout": "Seconds after which the run checkpoints and stops (resume continues it).",
    "stop_at_loss": "Stop once the validation loss is below this.",
    "checkpoint_every": "Epochs between periodic checkpoints.",
    "workspace": "Workspace qubits W.",
    "stages": "Stages of (R_Y rotations, neurons) on the workspace per cell.",
    "order": "Order of the quantum neuron's activation (cos^k, sin^k with k = 2^order).",
    "degree": "Largest subset of source qubits with its own neuron weight.",
    "dataset": "The task: simple-seq, simple-quotes, elman-xor, elman-letter, dna, text, "
               "digits01, digits36, digits-even-odd, digits, digits01-gen.",
    "sentence_length": "Sequence length of generated tasks (elman-*, dna, text, simple-seq).",
    "text_file": "Text for --dataset=text (default: a shipped public-domain sample).",
    "batch_size": "Sequences per shard and epoch (digit tasks: per digit).",
    "optimizer": "adam (AdamW), sgd, rmsprop or lbfgs (one step per batch with up to 20 "
                 "evaluations on it, history 40).",
    "learning_rate": "Learning rate.",
    "weight_decay": "Weight decay of the optimizer.",
    "loss": "nll (-log p(target)) or rvqe (the original's cross entropy on probabilities, 0 at "
            "the optimum).",
    "initial_bias": "Fixed offset of every neuron's angle (not learned).",
    "initial_bias_spread": "Standard deviation of the initial neuron biases theta.",
    "initial_weights_spread": "Standard deviation of the initial neuron weights phi.",
    "initial_unitaries_spread": "Standard deviation of the initial R_Y angles.",
    "validate_every": "Epochs between validations (and after the last).",
    "jit_compile": "Compile the training and validation steps with XLA (faster steps, a slower "
                   "start).",
}


def _define(names):
    for name in names:
        default = getattr(DEFAULTS, name)
        kind = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string,
                bool: flags.DEFINE_boolean}
        field_type = next(f.type for f in dataclasses.fields(QRNNConfig) if f.name == name)
        kind[field_type](name, default, HELP[name])


def define_global_flags():
    _define(GLOBAL)
    cli.define_run_flags("Run directory (default runs/qrnn/<tag>-<seed>).",
                         verbose="1 progress, 2 one line per epoch, 0 silent.")


def define_train_flags():
    _define(TRAIN)


def define_resume_flags():
    flags.DEFINE_float("override_learning_rate", None, "New learning rate from here on.")
    flags.DEFINE_integer("override_batch_size", None, "New batch size from here on.")


def translate(argv):
    """The original's hyphenated option names (``--num-shards``) as absl flags (``--num_shards``)."""
    out = [argv[0]]
    for arg in argv[1:]:
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            arg = "--" + name.replace("-", "_") + eq + value
        out.append(arg)
    return out


def validate_train():
    config = QRNNConfig(**{name: FLAGS[name].value for name in GLOBAL + TRAIN})
    return check_run(config, FLAGS.run_dir, overwrite=FLAGS.overwrite)


def validate_resume(checkpoint):
    for name in ("run_dir", "overwrite"):
        if FLAGS[name].present:
            raise ConfigError(f"--{name} does not apply to resume: the run is the one that "
                              f"holds CHECKPOINT ({checkpoint})")
    changes = {name: FLAGS[name].value for name in GLOBAL if FLAGS[name].present}
    for name in OVERRIDES:
        if FLAGS[f"override_{name}"].value is not None:
            changes[name] = FLAGS[f"override_{name}"].value
    return resume_plan(checkpoint, changes)


def launch(num_shards):
    """Run this command in ``num_shards`` Horovod processes (gloo, this host); the exit code."""
    command = [sys.executable, "-m", "horovod.runner.launch", "-np", str(num_shards),
               "-H", f"localhost:{num_shards}", "--gloo",
               sys.executable, "-m", "tfqsr.qrnn", *sys.argv[1:]]
    return subprocess.call(command)


def _summary(run_dir):
    from tfqsr.runtime.logging import read_metrics
    rows = [r for r in read_metrics(run_dir) if "val_loss" in r]
    if not rows:
        return "no validation yet"
    last = rows[-1]
    return (f"epoch {last['epoch']}: validation loss {last['val_loss']:.4g}, character error "
            f"{last['val_character_error']:.3f}; plot {os.path.join(run_dir, 'plots', 'training.png')}")


def main(plan):
    shards = plan.run.config.num_shards
    if shards > 1 and "HOROVOD_RANK" not in os.environ:
        return launch(shards)
    from tfqsr.runtime.distributed import Distributed
    distributed = Distributed()
    if distributed.size != shards:
        raise ConfigError(f"--num_shards must equal the number of Horovod processes, "
                          f"{distributed.size}, got {shards}")
    from tfqsr.runtime.loop import NonFiniteLossError
    try:
        outcome, epoch = train(plan, verbose=FLAGS.verbose, distributed=distributed)
    except NonFiniteLossError as error:  # a diverged run: one line, the checkpoints stay
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    if distributed.is_chief:
        print(_summary(plan.run.run_dir), flush=True)
        if outcome in ("interrupted", "timeout"):
            print(f"{outcome} after epoch {epoch}; continue with: python -m tfqsr.qrnn resume "
                  f"{plan.run.run_dir}", flush=True)
    return 130 if outcome == "interrupted" else 0


COMMAND = {
    "train": cli.Command(validate=validate_train, main=main, define_flags=define_train_flags),
    "resume": cli.Command(validate=validate_resume, main=main, define_flags=define_resume_flags,
                          positionals=("checkpoint",)),
}

if __name__ == "__main__":
    cli.run(COMMAND, define_flags=define_global_flags, translate=translate)
