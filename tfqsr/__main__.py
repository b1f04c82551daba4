"""The command-line entry points of tfqsr: ``python -m tfqsr`` lists them, one line each.

Each is ``python -m tfqsr.<name>``: a module whose docstring's first line says what it does,
whose import loads no TensorFlow, and whose ``COMMAND`` (a ``tfqsr.runtime.cli.Command``, or a
dict of them for a tool with subcommands) it runs with ``tfqsr.runtime.cli.run``. Its presets
live in ``flags/<name>/`` (tests/test_presets.py checks them). A new entry point adds its line
to ``ENTRY_POINTS``.
"""
import importlib

ENTRY_POINTS = (
    "train_decoder",
    "analyze",
    "l2hmc",
    "hsm",
    "model_builder",
    "qrnn",
)


def summary(name):
    """The first line of the docstring of ``tfqsr.<name>``."""
    return importlib.import_module(f"tfqsr.{name}").__doc__.strip().splitlines()[0]


def main():
    width = max(len(name) for name in ENTRY_POINTS)
    for name in ENTRY_POINTS:
        print(f"python -m tfqsr.{name:<{width}}  {summary(name)}")


if __name__ == "__main__":
    main()
