"""python -m tfqsr.hsm: train a Hilbert space model on a table (see tfqsr.hsm.command)."""
from tfqsr.hsm.command import COMMAND
from tfqsr.runtime import cli

if __name__ == "__main__":
    cli.run(COMMAND)
