"""Train Hilbert space models (quantum cognition machine learning) on tabular data.

    python -m tfqsr.hsm --data=sklearn:breast_cancer --config=breast_cancer --run_dir=runs/hsm

A data point x ∈ R^K defines the error Hamiltonian H(x) = ½ Σ_k (A_k − x_k I)² over learned
Hermitian d×d input operators A_k; its ground state |ψ(x)⟩ (or thermal state) predicts
ŷ_j = ⟨ψ(x)|B_j|ψ(x)⟩ with learned Hermitian output operators B_j. Layers: ``GeneralHSM``,
``PauliHSM``, ``FeatureWeights`` (``tfqsr.hsm.layers``); configuration: pydantic models
(``tfqsr.hsm.config``); training: ``fit(config, data)`` (``tfqsr.hsm.training``).

Importing this package loads no TensorFlow: the names below are loaded on first use.
"""
import importlib

_EXPORTS = {
    "GeneralHSM": "layers", "PauliHSM": "layers", "FeatureWeights": "layers",
    "HSMModel": "model", "export": "model",
    "fit": "training", "evaluate": "training", "FitResult": "training",
    "load_config": "config", "ModelHyperparameters": "config",
    "GeneralHSModelHyperparameters": "config", "PauliHSModelHyperparameters": "config",
    "OptimizerConfig": "config", "PerGroupOptimizerParams": "config",
    "LossFunctionConfig": "config", "SchedulerConfig": "config",
    "EarlyStoppingConfig": "config", "GradientClippingConfig": "config",
    "COMMAND": "__main__",
}


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tfqsr.hsm' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tfqsr.hsm.{_EXPORTS[name]}"), name)


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))
