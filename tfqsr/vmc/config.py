"""The configuration of a transformer VMC run, its validation, and the objects it builds.

This module does not import TensorFlow (the builders import it when called), so entry points
validate their flags before TensorFlow starts. Field names are the long flag names of ``python -m tfqsr.train_decoder``; ``SHORT_NAMES`` gives
the short ones kept from the original transformer-quantum-states code.
"""
import dataclasses

from tfqsr.validation import ConfigError, require

SHORT_NAMES = {"system_size": "s", "dictionary_size": "d", "num_heads": "h", "num_layers": "r",
               "warmup_steps": "w", "seed": "e", "clip_distance": "c"}
HAMILTONIANS = ("tfim", "mhs", "hs", "heisenberg")
BOUNDARIES = ("open", "periodic")
OPTIMIZERS = ("adam", "sgd", "sr", "minsr")  # sr, minsr: natural gradient fed to SGD
SR_SOLVERS = ("direct", "cg")
# warmup: linear rise to --lr, then 1/sqrt(step) decay; constant: linear rise to --lr, then --lr.
LR_SCHEDULES = ("warmup", "constant")
# Hamiltonians whose ground state has signs (Marshall sign rule): they need the phase head.
_SIGNED = ("hs", "heisenberg")


@dataclasses.dataclass(frozen=True)
class VMCConfig:
    """Everything that defines a transformer VMC run (see ``python -m tfqsr.train_decoder --help``)."""
    system_size: int = 10
    dictionary_size: int = 2
    num_layers: int = 2
    num_heads: int = 4
    d_model: int = 32
    clip_distance: int = 10
    phase: str = "auto"
    hamiltonian: str = "tfim"
    boundary: str = "open"
    field: float = 1.0
    steps: int = 1000
    batch_size: int = 1000
    lr: float = 1e-3
    warmup_steps: int = 100
    lr_schedule: str = "warmup"
    optimizer: str = "adam"
    # Natural gradient (--optimizer=sr|minsr): lambda(step) = max(diag_shift_min,
    # diag_shift * diag_shift_decay^step), solver of (S + lambda I) delta = F, jacobian chunk.
    diag_shift: float = 1e-3
    diag_shift_decay: float = 1.0
    diag_shift_min: float = 0.0
    sr_solver: str = "direct"
    jacobian_chunk_size: int = 64
    seed: int = 0
    chunk_size: int = 0
    checkpoint_every: int = 100

    def validate(self):
        """Raise ConfigError naming the first invalid field; returns self."""
        def check(condition, field, allowed):
            require(condition, field, allowed, getattr(self, field), SHORT_NAMES)

        check(self.system_size >= 2, "system_size", "an integer >= 2")
        d = self.dictionary_size
        check(d >= 2 and d & (d - 1) == 0, "dictionary_size", "a power of two >= 2 (2, 4, 8, ...)")
        w = d.bit_length() - 1
        if self.system_size % w:
            raise ConfigError(
                f"--system_size (-s) must be divisible by log2(--dictionary_size)={w} "
                f"(spins per token), got {self.system_size}")
        check(self.num_layers >= 1, "num_layers", "an integer >= 1")
        check(self.d_model >= 1, "d_model", "an integer >= 1")
        check(self.num_heads >= 1 and self.d_model % self.num_heads == 0, "num_heads",
              f"a divisor of --d_model={self.d_model}")
        check(self.clip_distance >= 1, "clip_distance", "an integer >= 1")
        check(self.phase in ("auto", "true", "false"), "phase", "one of auto, true, false")
        check(self.hamiltonian in HAMILTONIANS, "hamiltonian", f"one of {', '.join(HAMILTONIANS)}")
        check(self.boundary in BOUNDARIES, "boundary", f"one of {', '.join(BOUNDARIES)}")
        check(self.steps >= 1, "steps", "an integer >= 1")
        check(self.batch_size >= 1, "batch_size", "an integer >= 1")
        check(self.lr > 0, "lr", "a positive number")
        check(self.lr_schedule in LR_SCHEDULES, "lr_schedule", f"one of {', '.join(LR_SCHEDULES)}")
        check(self.warmup_steps >= (1 if self.lr_schedule == "warmup" else 0), "warmup_steps",
              "an integer >= 1 (>= 0 with --lr_schedule=constant)")
        check(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}")
        check(self.diag_shift > 0, "diag_shift", "a positive number")
        check(0 < self.diag_shift_decay <= 1, "diag_shift_decay", "a number in (0, 1]")
        check(0 <= self.diag_shift_min <= self.diag_shift, "diag_shift_min",
              f"a number in [0, --diag_shift={self.diag_shift}]")
        check(self.sr_solver in SR_SOLVERS, "sr_solver", f"one of {', '.join(SR_SOLVERS)}")
        check(self.jacobian_chunk_size >= 1, "jacobian_chunk_size", "a positive integer")
        check(self.chunk_size >= 0, "chunk_size", "0 (no chunking) or a positive integer")
        check(self.checkpoint_every >= 1, "checkpoint_every", "an integer >= 1")
        return self

    def to_dict(self):
        return dataclasses.asdict(self)

    @property
    def has_phase(self):
        return self.phase == "true" or (self.phase == "auto" and self.hamiltonian in _SIGNED)


def build_hamiltonian(config):
    """The operator named by ``config.hamiltonian`` on a chain of ``system_size`` sites."""
    from tfqsr import operators
    n, pbc = config.system_size, config.boundary == "periodic"
    if config.hamiltonian == "tfim":
        return operators.TransverseFieldIsing(n, h=config.field, pbc=pbc)
    if config.hamiltonian == "heisenberg":
        return operators.Heisenberg(n, pbc=pbc)
    if config.hamiltonian == "hs":
        return operators.HaldaneShastry(n)
    return operators.ModifiedHaldaneShastry(n)


def build_model(config):
    from tfqsr.wavefunctions import TransformerWavefunction
    return TransformerWavefunction(
        config.system_size, dictionary_size=config.dictionary_size, num_layers=config.num_layers,
        num_heads=config.num_heads, d_model=config.d_model, clip_distance=config.clip_distance,
        phase=config.has_phase)


def build_schedule(config):
    """The learning-rate schedule of ``config.lr_schedule``: both rise linearly to ``lr`` over
    ``warmup_steps``, then "warmup" decays as 1/sqrt(step) and "constant" stays at ``lr``."""
    from tfqsr.vmc.schedules import TransformerWarmup, WarmupConstant
    if config.lr_schedule == "warmup":
        return TransformerWarmup(config.lr, config.warmup_steps)
    return WarmupConstant(config.lr, config.warmup_steps)


def build_optimizer(config):
    """Adam (or SGD, also for sr/minsr) with the learning-rate schedule of ``config``."""
    import keras
    schedule = build_schedule(config)
    if config.optimizer in ("sgd", "sr", "minsr"):
        return keras.optimizers.SGD(schedule)
    return keras.optimizers.Adam(schedule)


def build_preconditioner(config):
    """The ``NaturalGradient`` of ``--optimizer=sr|minsr``; None for adam and sgd."""
    if config.optimizer not in ("sr", "minsr"):
        return None
    from tfqsr.vmc.natural_gradient import DiagonalShift, NaturalGradient
    return NaturalGradient(
        config.optimizer, solver=config.sr_solver, chunk_size=config.jacobian_chunk_size,
        diag_shift=DiagonalShift(config.diag_shift, config.diag_shift_decay, config.diag_shift_min))
