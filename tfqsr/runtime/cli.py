"""The command-line kit of every entry point: absl flags, subcommands, positional arguments,
one-line usage errors and a quiet start-up.

An entry point is one :class:`Command` (a tool with one job) or a dict of them (subcommands:
``python -m tfqsr.qrnn train ...``, ``... resume CHECKPOINT``), run by :func:`run`::

    def define_flags():                      # flags are defined in functions, never at import
        flags.DEFINE_integer("steps", 100, "Training steps.")
        # --run_dir, --overwrite and --verbose, with these help texts (define_run_flags):
        cli.define_run_flags("Run directory (default runs/<tag>).", verbose="1 progress, 0 silent.")

    def validate(checkpoint):                # TensorFlow-free: flags and positionals -> a plan
        return experiment.check_run(config_from_flags(), FLAGS.run_dir)

    def main(plan):                          # the work; TensorFlow is loaded (quietly) by now
        ...
        return 0

    cli.run({"train": cli.Command(validate=..., main=..., define_flags=...),
             "resume": cli.Command(validate=..., main=..., positionals=("checkpoint",))},
            define_flags=define_global_flags)

Order of events: ``translate(argv)`` (an entry point's own command-line form, e.g. NN-QSR's
``key=value --ptf``, into flags); the kit's, the entry point's and the chosen command's flags are
defined; absl parses; the positionals (after the command's name) are matched to
``Command.positionals`` and passed to ``validate`` by name; the thread-pool flags (every entry
point has them, ``tfqsr.runtime.threads``) are checked. Any usage error up to here, and any raised
later by ``main``, becomes ONE line ``error: ...`` on stderr and exit code 2: absl flag errors
(unknown flag, bad value), ``tfqsr.validation.ConfigError`` (also for dataset constraints),
pydantic ``ValidationError`` (the field path and what is allowed) and bad or missing positionals
or commands. absl's ``--only_check_args`` stops after the validation with exit code 0 (presets are
checked that way). Then TensorFlow is imported with its start-up lines silenced, the thread pools
are set, and ``main(plan)`` runs; its return value is the exit code.

Quiet start-up: TF_CPP_MIN_LOG_LEVEL defaults to 2 (set when this module is imported, so
entry points import it before anything that loads TensorFlow), TensorFlow's import and device
discovery write no lines (the CUDA-not-found notices of a CPU-only machine included), and absl
logging shows warnings and errors unless ``--verbosity`` is given. Set the environment variable
``TFQSR_TF_LOGS=1`` to see all of TensorFlow's own log lines.
"""
import contextlib
import dataclasses
import os
import sys
from typing import Any, Callable

from absl import app, flags, logging

from tfqsr.runtime import threads
from tfqsr.validation import ConfigError

USAGE_EXIT_CODE = 2
TF_LOGS_VARIABLE = "TFQSR_TF_LOGS"

if not os.environ.get(TF_LOGS_VARIABLE):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

FLAGS = flags.FLAGS
flags.disclaim_key_flags()  # the flags define_run_flags defines belong to its caller (--help)


@dataclasses.dataclass(frozen=True)
class Command:
    """One job of an entry point.

    Attributes:
      validate: ``validate(**positionals)`` -> plan: checks every flag and positional (without
        TensorFlow and without writing anything) and returns what ``main`` needs; raises
        ConfigError (or a pydantic ValidationError) naming the problem.
      main: ``main(plan)`` -> exit code (None: 0); does the work.
      define_flags: defines this command's own flags (besides the entry point's global ones).
      positionals: names of the positional arguments it requires, in order (shown upper-case).
    """
    validate: Callable[..., Any]
    main: Callable[[Any], Any]
    define_flags: Callable[[], None] = None
    positionals: tuple = ()


def define_run_flags(run_dir, *, verbose="1 progress bar, 2 one line per step, 0 silent.",
                     overwrite="Replace a run directory holding another configuration."):
    """Define the run flags of an entry point, each argument the help text of the flag of its
    name: ``--run_dir`` (default None: which directory, e.g. ``"Run directory (default
    runs/<tag>)."``), ``--verbose`` (default 1: what each level shows) and ``--overwrite``
    (default False; not defined if ``overwrite`` is None, for a tool that only reads a run).

    The flags belong to the module that calls this (this module disclaims the flags it defines),
    so absl's ``--help``, which lists the main module's flags, shows them."""
    flags.DEFINE_string("run_dir", None, run_dir)
    if overwrite is not None:
        flags.DEFINE_boolean("overwrite", False, overwrite)
    flags.DEFINE_integer("verbose", 1, verbose)


def run(commands, *, define_flags=None, argv=None, translate=None):
    """Run an entry point (module docstring): ``commands`` is a :class:`Command` or a dict
    {name: Command}; ``define_flags`` defines the flags common to all commands; ``translate``
    rewrites argv (a list including the program name) before parsing."""
    def parse(argv):
        with _usage_errors():
            command, plan = _parse(commands, define_flags, translate(argv) if translate else argv)
        return command, plan

    def main(parsed):
        command, plan = parsed
        if not FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)
        with _usage_errors():
            import_tensorflow()
            threads.configure(FLAGS.intra_op_threads, FLAGS.inter_op_threads)
            return command.main(plan)

    app.run(main, argv=argv, flags_parser=parse)


def _parse(commands, define_flags, argv):
    threads.define_flags()
    if define_flags is not None:
        define_flags()
    name = None
    if isinstance(commands, dict):
        name = _command_name(commands, argv)
        command = commands[name]
    else:
        command = commands
    if command.define_flags is not None:
        command.define_flags()
    positionals = FLAGS(argv)[1:]
    if name is not None:
        positionals.remove(name)
    _check_positionals(name, command.positionals, positionals)
    threads.check(FLAGS.intra_op_threads, FLAGS.inter_op_threads)
    return command, command.validate(**dict(zip(command.positionals, positionals)))


def _command_name(commands, argv):
    """The command named in ``argv``: the first argument that is not a flag or the value of a
    flag before it (the command's own flags are not defined yet: an argument after one of them
    is taken for its value unless it names a command). A ``--flagfile`` is read in place, so a
    preset may name its command on a line of its own (``train``)."""
    names = ", ".join(commands)
    flag = None  # the flag of the previous argument, if it was "--name" without "="
    for arg in FLAGS.read_flags_from_files(argv[1:], force_gnu=True):
        if arg == "--":
            break
        if arg.startswith("-"):
            flag = arg.lstrip("-") if "=" not in arg else None
            continue
        known = flag in FLAGS
        if arg in commands and not (known and not FLAGS[flag].boolean):
            return arg
        if flag is None or (known and FLAGS[flag].boolean):
            raise ConfigError(f"the command must be one of {names}, got {arg!r}")
        flag = None
    raise ConfigError(f"a command is required: one of {names}")


def _check_positionals(name, expected, given):
    if len(given) == len(expected):
        return
    usage = " ".join(p.upper() for p in expected)
    what = f"{name} takes" if name else "takes"
    if not expected:
        raise ConfigError(f"unexpected positional arguments {given}; all options are flags")
    raise ConfigError(f"{what} {len(expected)} positional argument(s), {usage}; got {given}")


def import_tensorflow():
    """Import TensorFlow and discover its devices without its start-up lines on stderr
    (unless ``TFQSR_TF_LOGS`` is set); the thread pools can still be set afterwards."""
    if "tensorflow" in sys.modules or os.environ.get(TF_LOGS_VARIABLE):
        import tensorflow  # noqa: F401
        return
    with _silenced_stderr():
        import tensorflow as tf
        tf.config.list_physical_devices()


@contextlib.contextmanager
def _silenced_stderr():
    """File descriptor 2 goes to /dev/null (TensorFlow's C++ logging writes there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


@contextlib.contextmanager
def _usage_errors():
    """Report a usage error as one line on stderr and exit with USAGE_EXIT_CODE."""
    try:
        yield
    except Exception as error:
        message = usage_error_message(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr, flush=True)
        sys.exit(USAGE_EXIT_CODE)


def usage_error_message(error):
    """The one-line message of a usage error (absl flag error, ConfigError, pydantic
    ValidationError), or None for any other exception."""
    if isinstance(error, (ConfigError, flags.Error)):
        return " ".join(str(error).split())
    pydantic = sys.modules.get("pydantic")  # an error of pydantic means it is imported
    if pydantic is not None and isinstance(error, pydantic.ValidationError):
        return _pydantic_message(error)
    return None


def _pydantic_message(error):
    """"<Model> field <path>: <what is allowed>, got <value>" for the first error, and how many
    more there are."""
    first, *more = error.errors(include_url=False)
    path = ".".join(str(part) for part in first["loc"]) or "(root)"
    text = f"{error.title} field {path}: {first['msg']}"
    if first["type"] != "missing":
        value = repr(first["input"])
        text += f", got {value if len(value) <= 80 else value[:77] + '...'}"
    if more:
        text += f" (and {len(more)} more)"
    return " ".join(text.split())
