"""Helpers shared by the command-line entry points: usage errors and the absl main wrapper.

Every entry point validates all of its arguments before any work and reports the first
problem as one line naming the flag and what is allowed, with exit code 2 (like argparse).
"""
import sys

from absl import app
from absl import logging

from tfqsr.validation import ConfigError

USAGE_EXIT_CODE = 2


def run(main, argv=None):
    """``absl.app.run(main)``, turning a ConfigError raised during validation into exit 2."""
    def guarded(args):
        logging.set_verbosity(logging.WARNING)
        try:
            return main(args)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(USAGE_EXIT_CODE)
    app.run(guarded, argv=argv)
