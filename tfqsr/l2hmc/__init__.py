"""Learn a Monte Carlo sampler (L2HMC) for 2D U(1) and 4D SU(3) lattice gauge theory: train, eval, hmc.

    python -m tfqsr.l2hmc train --flagfile=flags/l2hmc/u1_16x16.flags --run_dir=runs/l2hmc
    python -m tfqsr.l2hmc eval --run_dir=runs/l2hmc --beta=5 --steps=500
    python -m tfqsr.l2hmc hmc --nt=16 --nx=16 --beta=5 --steps=500
    python -m tfqsr.l2hmc train --flagfile=flags/l2hmc/su3_4x4x4x4.flags --run_dir=runs/su3

The package: ``group`` (the group interface: U(1), SU(3), flat space), ``lattice`` (U1Lattice:
action, force, plaquette, topological charge, exact plaquette), ``su3`` (SU3Lattice: Wilson and
improved action, force, plaquette, clover charge), ``networks`` and ``dynamics``
(the generalized leapfrog with exact inverses and log-dets), ``kernel`` (the TFP kernel and the
HMC baseline), ``targets`` (the toy targets), ``autocorrelation`` (tau_int). Importing this
package loads no TensorFlow: the names below load their module on first use.
"""
import importlib

_EXPORTS = {
    "U1Lattice": "lattice", "U1": "group", "Group": "group", "LeapfrogDynamics": "dynamics",
    "LeapfrogNetwork": "networks", "UncalibratedL2HMC": "kernel", "l2hmc_kernel": "kernel",
    "hmc_kernel": "kernel", "propose": "kernel", "run_chain": "kernel",
    "SU3Lattice": "su3", "SU3": "group", "UncalibratedGroupHMC": "kernel",
    "CorrelatedGaussian": "targets", "GaussianMixture": "targets", "RoughWell": "targets",
    "integrated_autocorrelation_time": "autocorrelation", "COMMAND": "__main__",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
