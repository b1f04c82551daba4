"""The configuration of VMC runs, in pieces that entry points compose: validation, the defaults
a method brings, and the objects each piece builds.

A piece is a frozen dataclass whose field names are flag names. A run's configuration inherits
the pieces it is made of, so its fields, its flags and its ``config.json`` stay flat:

    ChainHamiltonianConfig  system_size, hamiltonian, boundary, field   build_hamiltonian()
    OptimizerConfig         optimizer, lr, lr_schedule, warmup_steps     build_schedule(), build_optimizer()
    NaturalGradientConfig   OptimizerConfig + diag_shift, diag_shift_decay, diag_shift_min,
                            sr_solver, jacobian_chunk_size               build_preconditioner()
    TrainingConfig          steps, batch_size, seed, chunk_size, checkpoint_every
    TransformerConfig       dictionary_size, num_layers, num_heads, d_model, clip_distance,
                            phase                                        build_model()

    VMCConfig = TransformerConfig + ChainHamiltonianConfig + NaturalGradientConfig + TrainingConfig
                (python -m tfqsr.train_decoder; ``SHORT_NAMES`` are its short flags, kept from
                the original transformer-quantum-states code)

Another VMC entry point composes its own model (and Hamiltonian) piece with the others::

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class RydbergConfig(PatchedModelConfig, RydbergHamiltonianConfig, NaturalGradientConfig,
                        TrainingConfig):
        SHORT_NAMES = {}

A model piece reads the number of sites and whether the ground state has signs from the
Hamiltonian piece beside it (``n_sites``, ``signed``).

Every piece checks its own fields (``check``); ``validate()`` runs the checks of all the pieces of
a configuration, base pieces first, and returns the configuration resolved. Fields that default
to None are set in one place, ``resolve``: to the value the run being resumed stored, else to the
default of the chosen method (``tfqsr.vmc.methods.METHOD_DEFAULTS``; explicitly given values
win). The resolved values are what a run directory's ``config.json`` holds.

This module does not import TensorFlow (the builders import it when called), so entry points
validate their flags before TensorFlow starts.
"""
import dataclasses

from tfqsr.validation import check, flag_name, integer, is_integer, real, require
from tfqsr.vmc.methods import (LR_SCHEDULES, METHOD_DEFAULTS, NATURAL_GRADIENT_METHODS,
                               OPTIMIZERS, SR_SOLVERS)

SHORT_NAMES = {"system_size": "s", "dictionary_size": "d", "num_heads": "h", "num_layers": "r",
               "warmup_steps": "w", "seed": "e", "clip_distance": "c"}
HAMILTONIANS = ("tfim", "mhs", "hs", "heisenberg")
BOUNDARIES = ("open", "periodic")
PHASES = ("auto", "true", "false")
# Hamiltonians whose ground state has signs (Marshall sign rule): they need the phase head.
_SIGNED = ("hs", "heisenberg")

__all__ = ["BOUNDARIES", "HAMILTONIANS", "LR_SCHEDULES", "OPTIMIZERS", "SR_SOLVERS", "SHORT_NAMES",
           "ChainHamiltonianConfig", "ConfigPiece", "NaturalGradientConfig", "OptimizerConfig",
           "TrainingConfig", "TransformerConfig", "VMCConfig", "build_hamiltonian", "build_model",
           "build_optimizer", "build_preconditioner", "build_schedule"]


class ConfigPiece:
    """Base of the configuration pieces: validation and method defaults over all the pieces a
    configuration class is made of. Messages name fields as flags (``flag_name``), with the short
    names of the class attribute ``SHORT_NAMES``."""
    SHORT_NAMES = {}

    def check(self):
        """Raise ConfigError naming the first invalid field of this piece (each piece overrides
        it for its own fields; a composite may add one for conditions across pieces)."""

    def method_defaults(self):
        """{field: value} for fields left None (see ``resolve``)."""
        return {}

    def resolve(self, previous=None):
        """This configuration with its unset (None) fields set: to their value in ``previous``
        (the stored configuration of the run being resumed, so that a run keeps the values it
        started with), else to the defaults of the chosen method. Fields neither sets stay None:
        they do not apply (the natural-gradient fields of adam)."""
        stored = {k: v for k, v in (previous or {}).items() if v is not None}
        defaults = {**self.method_defaults(), **stored}
        unset = {f.name: defaults[f.name] for f in dataclasses.fields(self)
                 if getattr(self, f.name) is None and f.name in defaults}
        return dataclasses.replace(self, **unset)

    def validate(self):
        """The resolved configuration, after the checks of every piece this one is made of
        (base pieces first); raises ConfigError naming the first invalid field."""
        resolved = self.resolve()
        for cls in reversed(type(self).__mro__):
            if "check" in vars(cls):
                cls.check(resolved)
        return resolved

    def to_dict(self):
        return dataclasses.asdict(self)

    def _flag(self, field):
        return flag_name(field, self.SHORT_NAMES)

    def _require(self, condition, field, allowed):
        require(condition, field, allowed, getattr(self, field), self.SHORT_NAMES)

    def _integer(self, field, minimum):
        integer(self._flag(field), getattr(self, field), minimum)

    def _positive(self, field, optional=False):
        value = getattr(self, field)
        if not (optional and value is None):
            self._require(real(self._flag(field), value) > 0, field, "a positive number")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChainHamiltonianConfig(ConfigPiece):
    """The Hamiltonian of a chain of ``system_size`` spins (``build_hamiltonian``)."""
    system_size: int = 10
    hamiltonian: str = "tfim"
    boundary: str = "open"
    field: float = 1.0

    def check(self):
        self._integer("system_size", 2)
        self._require(self.hamiltonian in HAMILTONIANS, "hamiltonian", f"one of {', '.join(HAMILTONIANS)}")
        self._require(self.boundary in BOUNDARIES, "boundary", f"one of {', '.join(BOUNDARIES)}")
        real(self._flag("field"), self.field)

    @property
    def n_sites(self):
        return self.system_size

    @property
    def signed(self):
        """True when the ground state has signs (Marshall sign rule): a model needs a phase."""
        return self.hamiltonian in _SIGNED

    def build_hamiltonian(self):
        """The operator named by ``hamiltonian`` on a chain of ``system_size`` sites."""
        from tfqsr import operators
        n, pbc = self.system_size, self.boundary == "periodic"
        if self.hamiltonian == "tfim":
            return operators.TransverseFieldIsing(n, h=self.field, pbc=pbc)
        if self.hamiltonian == "heisenberg":
            return operators.Heisenberg(n, pbc=pbc)
        if self.hamiltonian == "hs":
            return operators.HaldaneShastry(n)
        return operators.ModifiedHaldaneShastry(n)


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimizerConfig(ConfigPiece):
    """The optimizer and its learning-rate schedule. ``lr``, ``lr_schedule`` and
    ``warmup_steps`` left None take the defaults of ``optimizer`` (``METHOD_DEFAULTS``)."""
    optimizer: str = "adam"
    lr: float = None
    lr_schedule: str = None
    warmup_steps: int = None

    def method_defaults(self):
        return METHOD_DEFAULTS.get(self.optimizer, {})

    def check(self):
        self._require(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}")
        self._positive("lr")
        self._require(self.lr_schedule in LR_SCHEDULES, "lr_schedule", f"one of {', '.join(LR_SCHEDULES)}")
        self._require(is_integer(self.warmup_steps)
                      and self.warmup_steps >= (1 if self.lr_schedule == "warmup" else 0),
                      "warmup_steps", "an integer >= 1 (>= 0 with --lr_schedule=constant)")

    def build_schedule(self):
        """The learning-rate schedule of ``lr_schedule``: both rise linearly to ``lr`` over
        ``warmup_steps``, then "warmup" decays as 1/sqrt(step) and "constant" stays at ``lr``."""
        from tfqsr.vmc.schedules import TransformerWarmup, WarmupConstant
        config = self.resolve()
        schedule = TransformerWarmup if config.lr_schedule == "warmup" else WarmupConstant
        return schedule(config.lr, config.warmup_steps)

    def build_optimizer(self):
        """Adam (or SGD, also for sr/minsr) with the learning-rate schedule of this configuration."""
        import keras
        optimizer = keras.optimizers.Adam if self.optimizer == "adam" else keras.optimizers.SGD
        return optimizer(self.build_schedule())


@dataclasses.dataclass(frozen=True, kw_only=True)
class NaturalGradientConfig(OptimizerConfig):
    """The optimizer with the natural gradient of ``optimizer="sr"|"minsr"``:
    lambda(step) = max(diag_shift_min, diag_shift * diag_shift_decay^step), the solver of
    (S + lambda I) delta = F, and the samples per per-sample-gradient chunk."""
    diag_shift: float = None
    diag_shift_decay: float = None
    diag_shift_min: float = None
    sr_solver: str = "direct"
    jacobian_chunk_size: int = 64

    def check(self):
        self._positive("diag_shift", optional=True)
        decay = self.diag_shift_decay
        self._require(decay is None or 0 < real(self._flag("diag_shift_decay"), decay) <= 1,
                      "diag_shift_decay", "a number in (0, 1]")
        low, high = self.diag_shift_min, self.diag_shift
        self._require(low is None or 0 <= real(self._flag("diag_shift_min"), low) <= (high or low),
                      "diag_shift_min",
                      "a number >= 0" if high is None else f"a number in [0, --diag_shift={high}]")
        self._require(self.sr_solver in SR_SOLVERS, "sr_solver", f"one of {', '.join(SR_SOLVERS)}")
        self._require(is_integer(self.jacobian_chunk_size) and self.jacobian_chunk_size >= 1,
                      "jacobian_chunk_size", "a positive integer")

    def build_preconditioner(self):
        """The ``NaturalGradient`` of ``optimizer="sr"|"minsr"``; None for adam and sgd."""
        if self.optimizer not in NATURAL_GRADIENT_METHODS:
            return None
        from tfqsr.vmc.natural_gradient import DiagonalShift, NaturalGradient
        config = self.resolve()
        return NaturalGradient(
            config.optimizer, solver=config.sr_solver, chunk_size=config.jacobian_chunk_size,
            diag_shift=DiagonalShift(config.diag_shift, config.diag_shift_decay, config.diag_shift_min))


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainingConfig(ConfigPiece):
    """How long and with how many samples a run trains, its seed and its checkpoints.
    ``chunk_size``: samples per log-psi call on connected configurations (0: all at once)."""
    steps: int = 1000
    batch_size: int = 1000
    seed: int = 0
    chunk_size: int = 0
    checkpoint_every: int = 100

    def check(self):
        self._integer("steps", 1)
        self._integer("batch_size", 1)
        self._integer("seed", None)
        self._require(is_integer(self.chunk_size) and self.chunk_size >= 0, "chunk_size",
                      "0 (no chunking) or a positive integer")
        self._integer("checkpoint_every", 1)

    def trainer_arguments(self, *, model, hamiltonian, exact_energy):
        """The ``VMCTrainer`` arguments of this piece (``vmc.trainer.vmc_experiment``)."""
        return {"batch_size": self.batch_size, "seed": self.seed, "chunk_size": self.chunk_size or None}


@dataclasses.dataclass(frozen=True, kw_only=True)
class TransformerConfig(ConfigPiece):
    """The transformer wavefunction (``build_model``) on the sites of the Hamiltonian piece:
    tokens of log2(``dictionary_size``) spins, a phase head when ``phase`` is "true" or "auto"
    for a signed ground state."""
    dictionary_size: int = 2
    num_layers: int = 2
    num_heads: int = 4
    d_model: int = 32
    clip_distance: int = 10
    phase: str = "auto"

    def check(self):
        d = self.dictionary_size
        self._require(is_integer(d) and d >= 2 and d & (d - 1) == 0, "dictionary_size",
                      "a power of two >= 2 (2, 4, 8, ...)")
        w = d.bit_length() - 1
        check(self.n_sites % w == 0, self._flag("system_size"),
              f"divisible by log2(--dictionary_size)={w} (spins per token)", self.n_sites)
        self._integer("num_layers", 1)
        self._integer("d_model", 1)
        self._require(is_integer(self.num_heads) and self.num_heads >= 1
                      and self.d_model % self.num_heads == 0, "num_heads",
                      f"a divisor of --d_model={self.d_model}")
        self._integer("clip_distance", 1)
        self._require(self.phase in PHASES, "phase", f"one of {', '.join(PHASES)}")

    @property
    def has_phase(self):
        return self.phase == "true" or (self.phase == "auto" and self.signed)

    def build_model(self):
        from tfqsr.wavefunctions import TransformerWavefunction
        return TransformerWavefunction(
            self.n_sites, dictionary_size=self.dictionary_size, num_layers=self.num_layers,
            num_heads=self.num_heads, d_model=self.d_model, clip_distance=self.clip_distance,
            phase=self.has_phase)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VMCConfig(TransformerConfig, ChainHamiltonianConfig, NaturalGradientConfig, TrainingConfig):
    """Everything that defines a transformer VMC run (``python -m tfqsr.train_decoder --help``)."""
    SHORT_NAMES = SHORT_NAMES


# The builders as functions of a configuration (any configuration made of the piece).
build_hamiltonian = ChainHamiltonianConfig.build_hamiltonian
build_model = TransformerConfig.build_model
build_schedule = OptimizerConfig.build_schedule
build_optimizer = OptimizerConfig.build_optimizer
build_preconditioner = NaturalGradientConfig.build_preconditioner
