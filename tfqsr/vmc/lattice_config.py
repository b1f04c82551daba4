"""Configuration pieces of VMC on 2D lattices with patched models (``python -m tfqsr.model_builder``),
composed with ``NaturalGradientConfig`` (adam, sgd, sr, minsr) as ``ModelBuilderConfig``; field
names are flag names, and the defaults are those of the NN-QSR code (Adam at a constant 5e-4,
12000 steps, K = 256 samples per minibatch, 512 for the RNN, Q = 1 minibatch, NLOOPS = 1):

    LatticeHamiltonianConfig  L, Lx, Ly, hamiltonian, V, omega, delta, field   build_hamiltonian()
    PatchedModelConfig        model, patch, Nh, rnntype, num_layers, nhead, dropout,
                              sub_model, sub_patch, sub_Nh, sub_num_layers, sub_nhead
                                                                              layout(), build_model()
    MinibatchTrainingConfig   K, Q, B, NLOOPS, sgrad, steps, seed, checkpoint_every, kl, data,
                              pretrain_steps                                  trainer_arguments()

Patches are strings: ``"2x2"`` (a 2D patch, rows x columns) or ``"4"`` (4 consecutive sites
in row-major order). The LPTF's ``patch`` is its large patch and ``sub_patch`` the small patch
its subsampler (``sub_model``) generates it in; a 1D ``sub_patch`` p inside a 2D large patch
means 1 x p small patches. Nothing here imports TensorFlow.
"""
import dataclasses
import math

from tfqsr.validation import ConfigError, is_integer, real
from tfqsr.vmc import methods
from tfqsr.vmc.config import ConfigPiece, NaturalGradientConfig

LATTICE_HAMILTONIANS = ("rydberg", "tfim")
MODELS = ("rnn", "ptf", "lptf")
SUB_MODELS = ("rnn", "ptf")
RNN_TYPES = ("GRU", "ELMAN")
# Model defaults of the NN-QSR code: hidden size / token width, samples per minibatch.
DEFAULT_NH = {"rnn": 256, "ptf": 128, "lptf": 128}
DEFAULT_K = {"rnn": 512, "ptf": 256, "lptf": 256}
# The transformers' connected configurations are XLA-compiled as one program with a decode per
# recomputation start: at 16 tokens (8x8 in 2x2 patches) it compiles in 1-2 minutes on 2 cores,
# at 64 (16x16) it had not compiled after 15 minutes, so beyond 16 tokens they run unfused.
XLA_CONNECTED_MAX_TOKENS = 16
# What each optimizer brings in this code: the shared defaults, with Adam at the original's
# constant learning rate and no warm-up.
METHOD_DEFAULTS = {**methods.METHOD_DEFAULTS,
                   "adam": {"lr": 5e-4, "lr_schedule": "constant", "warmup_steps": 0}}


def parse_patch(value, name="--patch"):
    """(px, py) of "pxq", or (p,) of "p" (p consecutive sites); ConfigError naming ``name``."""
    text = str(value).strip().lower()
    parts = text.split("x")
    if len(parts) in (1, 2) and all(part.isdigit() and int(part) >= 1 for part in parts):
        return tuple(int(part) for part in parts)
    raise ConfigError(f"{name} must be a patch size p or a 2D patch pxq (e.g. 4, 2x2, 2x4), got {value!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class LatticeHamiltonianConfig(ConfigPiece):
    """The Hamiltonian on an ``Lx x Ly`` lattice of ``L`` atoms (``Lx = Ly = sqrt(L)`` unless
    --Lx and --Ly are given): Rydberg (V, omega, delta) or TFIM (-ZZ - field X, open)."""
    L: int = 16
    Lx: int = 0
    Ly: int = 0
    hamiltonian: str = "rydberg"
    V: float = 7.0
    omega: float = 1.0
    delta: float = 1.0
    field: float = 1.0

    def check(self):
        self._integer("L", 2)
        self._require(self.hamiltonian in LATTICE_HAMILTONIANS, "hamiltonian",
                      f"one of {', '.join(LATTICE_HAMILTONIANS)}")
        if self.Lx or self.Ly:
            for field in ("Lx", "Ly"):
                self._integer(field, 1)
            self._require(self.Lx * self.Ly == self.L, "L", f"--Lx * --Ly = {self.Lx * self.Ly}")
        else:
            side = math.isqrt(self.L)
            self._require(side * side == self.L, "L",
                          "a square number (an L = n x n lattice), or give --Lx and --Ly")
        for field in ("V", "omega", "delta", "field"):
            real(self._flag(field), getattr(self, field))

    @property
    def lattice(self):
        return (self.Lx, self.Ly) if self.Lx else (math.isqrt(self.L),) * 2

    @property
    def n_sites(self):
        return self.L

    @property
    def signed(self):
        return False

    def build_hamiltonian(self):
        from tfqsr import operators
        lx, ly = self.lattice
        if self.hamiltonian == "rydberg":
            return operators.Rydberg(lx, ly, V=self.V, omega=self.omega, delta=self.delta)
        if lx == 1 or ly == 1:
            return operators.TransverseFieldIsing(self.L, h=self.field)
        return operators.TransverseFieldIsing(self.L, h=self.field, shape=(lx, ly))


@dataclasses.dataclass(frozen=True, kw_only=True)
class PatchedModelConfig(ConfigPiece):
    """RNN, patched transformer (PTF) or large-patched transformer (LPTF) on the lattice of
    the Hamiltonian piece, in the token layout of ``patch`` (and ``sub_patch`` for the LPTF)."""
    model: str = "ptf"
    patch: str = "1"
    Nh: int = None
    rnntype: str = "GRU"
    num_layers: int = 2
    nhead: int = 8
    dropout: float = 0.0
    sub_model: str = "rnn"
    sub_patch: str = "1"
    sub_Nh: int = None
    sub_num_layers: int = 2
    sub_nhead: int = 8

    def method_defaults(self):
        defaults = {"Nh": DEFAULT_NH.get(self.model)}
        if self.model == "lptf":
            defaults["sub_Nh"] = (self.Nh or DEFAULT_NH["lptf"]) if self.sub_model == "rnn" else DEFAULT_NH["ptf"]
        return defaults

    def check(self):
        self._require(self.model in MODELS, "model", f"one of {', '.join(MODELS)}")
        self._integer("Nh", 1)
        self._require(self.rnntype in RNN_TYPES, "rnntype", f"one of {', '.join(RNN_TYPES)}")
        if self.model != "rnn":
            self._check_transformer("")
            self._require(0 <= real(self._flag("dropout"), self.dropout) < 1, "dropout", "in [0, 1)")
        if self.model == "lptf":
            self._require(self.sub_model in SUB_MODELS, "sub_model", f"one of {', '.join(SUB_MODELS)}")
            self._integer("sub_Nh", 1)
            if self.sub_model == "rnn":
                self._require(self.sub_Nh == self.Nh, "sub_Nh",
                              f"equal to --Nh={self.Nh} (the LPTF output is the RNN subsampler's "
                              "initial hidden state)")
            else:
                self._check_transformer("sub_")
        self.layout_arguments()

    def _check_transformer(self, prefix):
        """Width (a multiple of 4 for the 2D positional encoding, and of the heads) and depth."""
        width, heads = getattr(self, prefix + "Nh"), getattr(self, prefix + "nhead")
        self._require(width % 4 == 0, prefix + "Nh", "a multiple of 4 (the 2D positional encoding)")
        self._integer(prefix + "num_layers", 1)
        self._require(is_integer(heads) and heads >= 1 and width % heads == 0, prefix + "nhead",
                      f"a divisor of --{prefix}Nh={width}")

    def layout_arguments(self):
        """(layout class name, its arguments) of the lattice in these patches, checked without
        TensorFlow: ConfigError when a patch does not divide the lattice (or the atoms)."""
        lattice, n = self.lattice, self.n_sites
        patch = parse_patch(self.patch)
        if self.model != "lptf":
            if len(patch) == 1:
                if n % patch[0]:
                    raise ConfigError(f"--patch must divide the number of atoms --L={n}, got {self.patch!r}")
                return "WordLayout", (n, patch[0])
            return "PatchLayout", (lattice, _divides(patch, lattice, "--patch", self.patch))
        small = parse_patch(self.sub_patch, "--sub_patch")
        large = _divides(patch if len(patch) == 2 else (1, patch[0]), lattice, "--patch", self.patch)
        small = small if len(small) == 2 else (1, small[0])
        return "NestedPatchLayout", (lattice, large, _divides(small, large, "--sub_patch", self.sub_patch))

    @property
    def n_tokens(self):
        kind, arguments = self.layout_arguments()
        token = arguments[1] if kind == "WordLayout" else math.prod(arguments[-1])
        return self.n_sites // token

    def layout(self):
        """The ``tfqsr.hilbert`` token layout of ``layout_arguments``."""
        from tfqsr import hilbert
        kind, arguments = self.layout_arguments()
        return getattr(hilbert, kind)(*arguments)

    def build_model(self):
        """The configured wavefunction; the transformers evaluate connected configurations with
        XLA (``connected_jit_compile``: compiled once per run, then about 2.5x faster) up to
        ``XLA_CONNECTED_MAX_TOKENS`` tokens."""
        layout = self.layout()
        if self.model == "rnn":
            from tfqsr.wavefunctions.rnn import RNNWavefunction
            return RNNWavefunction(self.n_sites, layout=layout, rnntype=self.rnntype, Nh=self.Nh)
        if self.model == "ptf":
            from tfqsr.wavefunctions.patched import PatchedTransformer
            model = PatchedTransformer(self.n_sites, layout=layout, Nh=self.Nh, num_layers=self.num_layers,
                                       nhead=self.nhead, dropout=self.dropout)
        else:
            from tfqsr.wavefunctions.large_patched import LargePatchedTransformer
            model = LargePatchedTransformer(
                self.n_sites, layout=layout, Nh=self.Nh, num_layers=self.num_layers, nhead=self.nhead,
                dropout=self.dropout, subsampler=self.sub_model, sub_Nh=self.sub_Nh, rnntype=self.rnntype,
                sub_num_layers=self.sub_num_layers, sub_nhead=self.sub_nhead)
        model.connected_jit_compile = self.n_tokens <= XLA_CONNECTED_MAX_TOKENS
        return model


def _divides(patch, lattice, name, value):
    """``patch`` when its sides divide ``lattice``'s, else ConfigError naming ``name``."""
    if lattice[0] % patch[0] or lattice[1] % patch[1]:
        raise ConfigError(f"{name} must be a patch whose sides divide the lattice "
                          f"{lattice[0]}x{lattice[1]}, got {value!r}")
    return patch


@dataclasses.dataclass(frozen=True, kw_only=True)
class MinibatchTrainingConfig(ConfigPiece):
    """Samples, steps and the data term of a run, as the NN-QSR code counts them: ``Q``
    minibatches of ``K`` samples, a batch ``B = Q * K``; NLOOPS groups of neighbours."""
    K: int = None
    Q: int = 1
    B: int = None
    NLOOPS: int = 1
    sgrad: bool = False
    steps: int = 12000
    seed: int = 0
    checkpoint_every: int = 100
    kl: float = 0.0
    data: str = ""
    pretrain_steps: int = 0

    def method_defaults(self):
        k = self.K or DEFAULT_K.get(getattr(self, "model", "ptf"), 256)
        return {"K": k, "B": self.Q * k if is_integer(self.Q) and is_integer(k) else None}

    def check(self):
        self._integer("K", 1)
        self._integer("Q", 1)
        self._require(is_integer(self.B) and self.B == self.Q * self.K, "B",
                      f"--Q * --K = {self.Q * self.K} (the batch is Q minibatches of K samples)")
        self._integer("NLOOPS", 1)
        self._require(isinstance(self.sgrad, bool), "sgrad", "True or False")
        self._integer("steps", 1)
        self._integer("seed", None)
        self._integer("checkpoint_every", 1)
        self._require(real(self._flag("kl"), self.kl) >= 0, "kl", "a number >= 0")
        self._integer("pretrain_steps", 0)
        if (self.kl > 0 or self.pretrain_steps > 0) and not self.data:
            raise ConfigError(f"--data must name a snapshot file (.npz) with --kl={self.kl} and "
                              f"--pretrain_steps={self.pretrain_steps}, got {self.data!r}")

    def snapshots(self):
        """The snapshots of ``data`` (None without), checked against the number of sites."""
        if not self.data:
            return None
        from tfqsr.vmc.data import load_snapshots
        return load_snapshots(self.data, self.n_sites)

    def trainer_arguments(self, *, model, hamiltonian, exact_energy):
        from tfqsr import exact
        from tfqsr.operators.grouping import NeighbourGroups
        reference = exact.reference_energy_per_atom(hamiltonian) if exact_energy is None else (
            exact_energy / hamiltonian.n_sites, 0.0, "exact")
        minibatch = self.K if self.Q > 1 else None
        return {"hamiltonian": NeighbourGroups(hamiltonian, model.layout, self.NLOOPS),
                "batch_size": self.B, "seed": self.seed, "minibatch_size": minibatch,
                "chunk_size": minibatch, "data": self.snapshots(), "kl": self.kl,
                "data_batch_size": self.K, "pretrain_steps": self.pretrain_steps,
                "reference": None if reference is None else reference[0], "sgrad": self.sgrad}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelBuilderConfig(PatchedModelConfig, LatticeHamiltonianConfig, NaturalGradientConfig,
                         MinibatchTrainingConfig):
    """Everything that defines a ``python -m tfqsr.model_builder`` run."""

    def method_defaults(self):
        return {**METHOD_DEFAULTS.get(self.optimizer, {}), **MinibatchTrainingConfig.method_defaults(self),
                **PatchedModelConfig.method_defaults(self)}

    def check(self):
        if self.optimizer in methods.NATURAL_GRADIENT_METHODS:  # its direction is not a loss gradient
            self._require(not self.sgrad, "sgrad", f"False with --optimizer={self.optimizer} (the natural "
                          "gradient recomputes log-derivatives per sample)")
            self._require(not self.kl, "kl", f"0 with --optimizer={self.optimizer} (the data term "
                          "needs --optimizer=adam or sgd)")
            self._require(not self.pretrain_steps, "pretrain_steps", f"0 with --optimizer="
                          f"{self.optimizer} (pretraining needs --optimizer=adam or sgd)")
        tokens = self.n_tokens
        self._require(tokens % self.NLOOPS == 0, "NLOOPS",
                      f"a divisor of the number of tokens {tokens} (atoms / patch size)")
        self.snapshots()
