"""A toy entry point on the command-line kit, for tests/runtime/test_cli.py:

    python tests/runtime/cli_program.py [--tag=T] [--seed=S] [--out=DIR] train [--lr=X]
        [--device=D] [--workspace=W] [--batch_size=B]
    python tests/runtime/cli_program.py resume CHECKPOINT [--override_lr=X]

and the original form of a tool, ``key=value`` words (as NN-QSR's ``ModelBuilder.py L=64``).
``validate`` prints the plan as one JSON line; ``main`` writes it to DIR/<command>.json, after
checking a constraint of the toy dataset (6 sequences: --batch_size must divide 6).
"""
import json
import os
import sys
from typing import Literal

import pydantic
from absl import flags

from tfqsr.runtime import cli
from tfqsr.validation import ConfigError, require

FLAGS = flags.FLAGS
SEQUENCES = 6


class Optimizer(pydantic.BaseModel):
    lr: pydantic.PositiveFloat = 0.01


class ToyConfig(pydantic.BaseModel):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    optimizer: Optimizer = Optimizer()


def define_global_flags():
    flags.DEFINE_string("tag", "toy", "Run tag.")
    flags.DEFINE_integer("seed", 0, "Seed.")
    flags.DEFINE_string("out", None, "Directory main writes into.")


def define_train_flags():
    flags.DEFINE_float("lr", 0.01, "Learning rate (pydantic: > 0).")
    flags.DEFINE_string("device", "auto", "auto, cpu or cuda (pydantic).")
    flags.DEFINE_integer("workspace", 2, "Workspace qubits (>= 1).")
    flags.DEFINE_integer("batch_size", 2, "A divisor of the 6 sequences (checked by main).")


def define_resume_flags():
    flags.DEFINE_float("override_lr", None, "New learning rate.")


def _plan(command, **fields):
    plan = {"command": command, "tag": FLAGS.tag, "seed": FLAGS.seed, **fields}
    print(json.dumps(plan), flush=True)
    return plan


def validate_train():
    require(FLAGS.workspace >= 1, "workspace", "an integer >= 1", FLAGS.workspace)
    config = ToyConfig(device=FLAGS.device, optimizer={"lr": FLAGS.lr})
    return _plan("train", config=config.model_dump(), workspace=FLAGS.workspace)


def validate_resume(checkpoint):
    if not checkpoint.endswith(".ckpt"):
        raise ConfigError(f"CHECKPOINT must be a .ckpt file, got {checkpoint!r}")
    return _plan("resume", checkpoint=checkpoint, override_lr=FLAGS.override_lr)


def main(plan):
    if plan["command"] == "train":  # a dataset constraint, known once the data is loaded
        require(SEQUENCES % FLAGS.batch_size == 0, "batch_size",
                f"a divisor of the {SEQUENCES} sequences of the dataset", FLAGS.batch_size)
    with open(os.path.join(FLAGS.out, f"{plan['command']}.json"), "w") as f:
        json.dump({**plan, "tensorflow_loaded": "tensorflow" in sys.modules}, f)
    return 0


def translate(argv):
    """The original form: ``key=value`` words are flags."""
    return [argv[0]] + [f"--{arg}" if "=" in arg and not arg.startswith("-") else arg for arg in argv[1:]]


COMMANDS = {
    "train": cli.Command(validate=validate_train, main=main, define_flags=define_train_flags),
    "resume": cli.Command(validate=validate_resume, main=main, define_flags=define_resume_flags,
                          positionals=("checkpoint",)),
}

if __name__ == "__main__":
    cli.run(COMMANDS, define_flags=define_global_flags, translate=translate)
