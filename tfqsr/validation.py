"""Validation of arguments: one error type and one message form for the library and every
command line.

Every check raises :class:`ConfigError` (a ``ValueError``) with the message
``"<name> must be <allowed>, got <value>"``. Library code names its keyword argument
(``n_sites must be an integer >= 2, got 1``); entry points name the flag, ``--system_size (-s)``
(:func:`flag_name`, :func:`require`), and ``tfqsr.runtime.cli`` turns the error into one line
on stderr and exit code 2. This module imports nothing heavy, so command lines validate before
TensorFlow loads.
"""
import math
import numbers


class ConfigError(ValueError):
    """An invalid argument; ``str(error)`` names the argument and what is allowed."""


def is_integer(value):
    """True for Python and numpy integers, False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check(condition, name, allowed, value):
    """Raise ConfigError "<name> must be <allowed>, got <value!r>" unless ``condition``."""
    if not condition:
        raise ConfigError(f"{name} must be {allowed}, got {value!r}")


def integer(name, value, minimum=None, maximum=None):
    """``value`` as int; ConfigError unless it is an integer in [minimum, maximum]."""
    ok = is_integer(value) and (minimum is None or value >= minimum) and (
        maximum is None or value <= maximum)
    if maximum is None:
        allowed = "an integer" if minimum is None else f"an integer >= {minimum}"
    else:
        allowed = f"an integer in [{minimum}, {maximum}]"
    check(ok, name, allowed, value)
    return int(value)


def real(name, value):
    """``value`` as a finite float; ConfigError otherwise."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    check(ok, name, "a finite real number", value)
    return float(value)


def flag_name(field, short_names=None):
    """``--field`` or ``--field (-f)`` for messages about command-line flags."""
    short = (short_names or {}).get(field)
    return f"--{field} (-{short})" if short else f"--{field}"


def require(condition, field, allowed, value, short_names=None):
    """:func:`check` for a flag: "--field (-f) must be <allowed>, got <value>"."""
    check(condition, flag_name(field, short_names), allowed, value)
