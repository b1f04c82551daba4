"""Validation of configurations: one error type and one message format for every system."""


class ConfigError(ValueError):
    """An invalid argument; ``str(error)`` names the argument and what is allowed."""


def flag_name(field, short_names=None):
    """``--field`` or ``--field (-f)`` for messages."""
    short = (short_names or {}).get(field)
    return f"--{field} (-{short})" if short else f"--{field}"


def require(condition, field, allowed, value, short_names=None):
    """Raise ConfigError "--field (-f) must be <allowed>, got <value>" unless ``condition``."""
    if not condition:
        raise ConfigError(f"{flag_name(field, short_names)} must be {allowed}, got {value!r}")
