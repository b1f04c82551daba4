"""The optimization methods of VMC by name, and the defaults each brings.

The one list of each kind, shared by the configuration (``tfqsr.vmc.config``, which validates
flags before TensorFlow loads: this module imports nothing) and the implementations
(``tfqsr.vmc.natural_gradient``, ``tfqsr.vmc.schedules``).
"""
OPTIMIZERS = ("adam", "sgd", "sr", "minsr")  # sr, minsr: natural gradient fed to SGD
NATURAL_GRADIENT_METHODS = ("sr", "minsr")
SR_SOLVERS = ("direct", "cg")
# warmup: linear rise to --lr, then 1/sqrt(step) decay; constant: linear rise to --lr, then --lr.
LR_SCHEDULES = ("warmup", "constant")

_GRADIENT = {"lr": 1e-3, "lr_schedule": "warmup", "warmup_steps": 100}
# The natural gradient wants a constant step (the 1/sqrt(step) decay slows it down) and a
# diagonal shift that decays as the estimate of S improves: flags/train_decoder/tfim20_sr.flags.
_NATURAL_GRADIENT = {"lr": 0.05, "lr_schedule": "constant", "warmup_steps": 20,
                     "diag_shift": 0.01, "diag_shift_decay": 0.98, "diag_shift_min": 0.001}
# What choosing a method brings: the value of each of these fields left unset (None). The
# natural-gradient fields do not apply to adam and sgd, which leave them unset.
METHOD_DEFAULTS = {"adam": _GRADIENT, "sgd": _GRADIENT,
                   "sr": _NATURAL_GRADIENT, "minsr": _NATURAL_GRADIENT}
