"""The configuration of an L2HMC training run (``python -m tfqsr.l2hmc train``), TensorFlow-free.

Field names are flag names; ``config.json`` of a run holds them. ``steps`` = ``eras`` x
``steps_per_era``; beta is constant within an era and linear in the era index from
``beta_init`` (era 0) to ``beta_final`` (the last era).

``group``: "u1" (2D U(1) on nt x nx) or "su3" (4D SU(3) on nt x nx x ny x nz, ``c1`` the
rectangle coefficient of the improved action). Fields left None take the group's defaults
(``method_defaults``): U(1) uses NCP and the convolutions (8, 16) / (3, 3); SU(3) has no NCP
and no convolutions (dense networks), and ny = nz = nx. SU(3) runs in fp32 or fp64
(complex64 / complex128 links), not fp16.
"""
import dataclasses

from tfqsr.validation import check
from tfqsr.vmc.config import ConfigPiece

PRECISIONS = ("fp32", "fp64", "fp16")
GROUP_NAMES = ("u1", "su3")
SU3_PRECISIONS = ("fp32", "fp64")


def parse_integers(name, text):
    """A tuple of integers from a flag value (a list of strings or a comma-separated string)."""
    items = text.split(",") if isinstance(text, str) else list(text or ())
    items = [str(item).strip() for item in items if str(item).strip()]
    check(all(item.lstrip("-").isdigit() for item in items), name,
          "a comma-separated list of integers", ",".join(items))
    return tuple(int(item) for item in items)


@dataclasses.dataclass(frozen=True, kw_only=True)
class L2HMCConfig(ConfigPiece):
    """Lattice, sampler, networks, loss, optimizer and schedule of a run (module docstring)."""
    group: str = "u1"
    nt: int = 8
    nx: int = 8
    ny: int = None
    nz: int = None
    c1: float = 0.0
    beta_init: float = 1.0
    beta_final: float = 3.0
    eras: int = 2
    steps_per_era: int = 100
    chains: int = 64
    nleapfrog: int = 4
    eps: float = 0.1
    use_ncp: bool = None
    merge_directions: bool = False
    conv_filters: tuple = None
    conv_sizes: tuple = None
    units: tuple = (64, 64)
    separate_networks: bool = True
    charge_weight: float = 0.01
    plaq_weight: float = 0.0
    lr: float = 1e-3
    clip_norm: float = 10.0
    precision: str = "fp32"
    seed: int = 0
    checkpoint_every: int = 50

    def method_defaults(self):
        if self.group == "su3":
            return {"use_ncp": False, "conv_filters": (), "conv_sizes": (), "ny": self.nx,
                    "nz": self.nx}
        return {"use_ncp": True, "conv_filters": (8, 16), "conv_sizes": (3, 3)}

    def check(self):
        self._require(self.group in GROUP_NAMES, "group", f"one of {', '.join(GROUP_NAMES)}")
        self._integer("nt", 2)
        self._integer("nx", 2)
        su3 = self.group == "su3"
        for field in ("ny", "nz"):
            if su3:
                self._integer(field, 2)
            else:
                self._require(getattr(self, field) is None, field, "unset for --group=u1 (2D)")
        self._require(isinstance(self.c1, (int, float)) and not isinstance(self.c1, bool)
                      and (su3 or self.c1 == 0), "c1",
                      "a real number with --group=su3 (0 for --group=u1)")
        if su3:
            self._require(not self.use_ncp, "use_ncp", "false with --group=su3 (no NCP on SU(3))")
            self._require(not self.conv_filters, "conv_filters",
                          "empty with --group=su3 (the 4D networks are dense)")
            self._require(self.precision in SU3_PRECISIONS, "precision",
                          "fp32 or fp64 with --group=su3 (complex64 / complex128 links)")
        self._require(float(self.beta_init) >= 0, "beta_init", "a real number >= 0")
        self._require(float(self.beta_final) >= 0, "beta_final", "a real number >= 0")
        self._integer("eras", 1)
        self._integer("steps_per_era", 1)
        self._integer("chains", 2)
        self._integer("nleapfrog", 1)
        self._positive("eps")
        self._require(isinstance(self.use_ncp, bool), "use_ncp", "true or false")
        self._require(isinstance(self.merge_directions, bool), "merge_directions", "true or false")
        self._require(all(f >= 1 for f in self.conv_filters), "conv_filters", "positive integers")
        self._require(len(self.conv_sizes) == len(self.conv_filters)
                      and all(k >= 1 and k % 2 == 1 for k in self.conv_sizes), "conv_sizes",
                      f"one odd positive kernel size per --conv_filters entry ({len(self.conv_filters)})")
        self._require(all(k <= min(self.nt, self.nx) for k in self.conv_sizes), "conv_sizes",
                      f"kernel sizes <= min(--nt, --nx) = {min(self.nt, self.nx)}")
        self._require(len(self.units) >= 1 and all(u >= 1 for u in self.units), "units",
                      "one or more positive layer widths")
        for field in ("charge_weight", "plaq_weight"):
            self._require(float(getattr(self, field)) >= 0, field, "a real number >= 0")
        self._require(self.charge_weight > 0 or self.plaq_weight > 0, "charge_weight",
                      "> 0 when --plaq_weight is 0 (the loss needs a term)")
        self._positive("lr")
        self._positive("clip_norm")
        self._require(self.precision in PRECISIONS, "precision", f"one of {', '.join(PRECISIONS)}")
        self._integer("seed", None)
        self._integer("checkpoint_every", 1)

    @property
    def steps(self):
        return self.eras * self.steps_per_era

    def beta(self, step):
        """beta of training step ``step`` (1-based): constant within an era, linear over eras."""
        era = min((step - 1) // self.steps_per_era, self.eras - 1)
        fraction = era / (self.eras - 1) if self.eras > 1 else 1.0
        return self.beta_init + (self.beta_final - self.beta_init) * fraction

    @property
    def link_shape(self):
        """One chain's links: (2, nt, nx) for U(1), (4, nt, nx, ny, nz) for SU(3)."""
        c = self.resolve()
        return (4, c.nt, c.nx, c.ny, c.nz) if c.group == "su3" else (2, c.nt, c.nx)

    def dynamics_arguments(self):
        """The ``LeapfrogDynamics`` keyword arguments of this configuration."""
        c = self.resolve()
        return dict(group=c.group, link_shape=c.link_shape, nleapfrog=c.nleapfrog,
                    eps=c.eps, use_ncp=c.use_ncp, conv_filters=tuple(c.conv_filters),
                    conv_sizes=tuple(c.conv_sizes), units=tuple(c.units),
                    separate_networks=c.separate_networks, mask_seed=c.seed)
