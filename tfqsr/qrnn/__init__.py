"""Train a quantum recurrent neural network (RVQE) simulated on a state vector: train | resume.

    python -m tfqsr.qrnn --tag test --seed 42 --epochs 2000 train --dataset dna --workspace 3 \\
        --stages 2 --order 2 --degree 2 --learning-rate 0.01 --batch-size 16
    python -m tfqsr.qrnn resume runs/qrnn/test-42 [--override-learning-rate 0.001]

The recurrent quantum neural network of Bausch, "Recurrent Quantum Neural Networks" (NeurIPS
2020), simulated exactly with real amplitudes in TensorFlow: ``simulator`` (batched state
vectors, gates, postselection), ``neuron`` (the quantum neuron, closed form and circuit),
``cell`` (``QRNNCell``), ``model`` (``QRNN`` and its losses), ``datasets`` (the sequence tasks),
``config``, ``trainer`` and ``runs`` (training on the epoch runtime); ``COMMAND`` is the
command line's {"train", "resume"}. Importing this package loads no TensorFlow: ``QRNN`` and
the others are loaded on first use.
"""
import importlib

_EXPORTS = {"QRNN": "model", "QRNNCell": "cell", "sequence_metrics": "model",
            "parameter_count": "architecture", "COMMAND": "__main__"}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"tfqsr.qrnn.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tfqsr.qrnn' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
