"""Variational Monte Carlo: estimators, schedules, configuration and the trainer."""
from tfqsr.vmc.config import VMCConfig, build_hamiltonian, build_model, build_optimizer
from tfqsr.vmc.estimators import energy_statistics, surrogate_loss
from tfqsr.vmc.schedules import TransformerWarmup
from tfqsr.vmc.trainer import VMCTrainer

__all__ = ["VMCConfig", "VMCTrainer", "TransformerWarmup", "build_hamiltonian", "build_model",
           "build_optimizer", "energy_statistics", "surrogate_loss"]
