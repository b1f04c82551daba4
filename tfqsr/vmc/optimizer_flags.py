"""The absl flags of a VMC entry point's optimizer (``train_decoder``, ``model_builder``): the
fields of ``tfqsr.vmc.config.NaturalGradientConfig``, defined once.

Flags whose default comes with ``--optimizer`` default to None here, and their help lists each
method's default (``methods.METHOD_DEFAULTS``, with an entry point's own overrides); the
configuration's ``resolve`` fills them in. Defining flags is all this module does: it reads none.
The flags belong to the module that calls ``define_optimizer_flags`` (this module disclaims
them), so absl's ``--help``, which lists the main module's flags, shows them.
"""
from absl import flags

from tfqsr.vmc.methods import LR_SCHEDULES, METHOD_DEFAULTS, OPTIMIZERS, SR_SOLVERS

flags.disclaim_key_flags()


def method_default_help(field, method_defaults=METHOD_DEFAULTS):
    """"default by --optimizer: adam/sgd 0.001, sr/minsr 0.05" for ``field``."""
    values = {}
    for method, defaults in method_defaults.items():
        values.setdefault(defaults.get(field), []).append(method)
    return "default by --optimizer: " + ", ".join(
        f"{'/'.join(methods)} {value}" for value, methods in values.items() if value is not None)


def define_optimizer_flags(defaults, *, method_defaults=METHOD_DEFAULTS, short_names=None):
    """--optimizer, --lr, --lr_schedule, --warmup_steps, --diag_shift, --diag_shift_decay,
    --diag_shift_min, --sr_solver, --jacobian_chunk_size.

    ``defaults``: a default-constructed configuration (its ``optimizer``, ``sr_solver`` and
    ``jacobian_chunk_size``); ``method_defaults``: {method: {field: value}} for the help texts;
    ``short_names``: {field: one-letter flag}."""
    short = short_names or {}

    def method_default(field):
        return method_default_help(field, method_defaults)

    flags.DEFINE_string("optimizer", defaults.optimizer, f"One of {', '.join(OPTIMIZERS)} "
                        "(sr, minsr: natural gradient (S + lambda I)^-1 F with SGD at --lr).")
    flags.DEFINE_float("lr", None, f"Peak learning rate, reached after the warm-up ({method_default('lr')}).")
    flags.DEFINE_string("lr_schedule", None,
                        f"One of {', '.join(LR_SCHEDULES)}: linear warm-up over --warmup_steps to --lr, "
                        "then 1/sqrt(step) decay (warmup) or --lr (constant; --warmup_steps=0: no warm-up) "
                        f"({method_default('lr_schedule')}).")
    flags.DEFINE_integer("warmup_steps", None, f"Learning-rate warm-up steps ({method_default('warmup_steps')}).",
                         short_name=short.get("warmup_steps"))
    flags.DEFINE_float("diag_shift", None,
                       f"sr/minsr: initial diagonal shift lambda ({method_default('diag_shift')}).")
    flags.DEFINE_float("diag_shift_decay", None,
                       "sr/minsr: lambda(step) = max(--diag_shift_min, --diag_shift * decay^step) "
                       f"({method_default('diag_shift_decay')}).")
    flags.DEFINE_float("diag_shift_min", None,
                       f"sr/minsr: smallest diagonal shift ({method_default('diag_shift_min')}).")
    flags.DEFINE_string("sr_solver", defaults.sr_solver,
                        f"sr/minsr: one of {', '.join(SR_SOLVERS)} (eigh, conjugate gradients).")
    flags.DEFINE_integer("jacobian_chunk_size", defaults.jacobian_chunk_size,
                         "sr/minsr: samples per per-sample-gradient (jacobian) call.")
