"""Variational Monte Carlo: estimators, schedules, configuration pieces, methods and the trainer.

Names are imported on first use (PEP 562), so that ``tfqsr.vmc.config`` (validation) loads
without TensorFlow and command lines report bad flags before TensorFlow starts.
"""
import importlib

_EXPORTS = {
    "VMCConfig": "config", "ChainHamiltonianConfig": "config", "OptimizerConfig": "config",
    "NaturalGradientConfig": "config", "TrainingConfig": "config", "TransformerConfig": "config",
    "ConfigPiece": "config", "build_hamiltonian": "config", "build_model": "config",
    "build_optimizer": "config", "build_preconditioner": "config", "build_schedule": "config",
    "METHOD_DEFAULTS": "methods", "DiagonalShift": "natural_gradient",
    "NaturalGradient": "natural_gradient", "log_derivatives": "natural_gradient",
    "energy_statistics": "estimators", "surrogate_loss": "estimators",
    "TransformerWarmup": "schedules", "WarmupConstant": "schedules", "VMCTrainer": "trainer",
    "vmc_experiment": "trainer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tfqsr.vmc' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tfqsr.vmc.{_EXPORTS[name]}"), name)
