"""Speed and accuracy of the quantum recurrent network (issue 13).

    python benchmarks/bench_qrnn.py                  # everything, the issue's sizes (hours)
    python benchmarks/bench_qrnn.py --quick          # reduced: the figures in docs/qrnn.md

Prints:

1. speed: epochs per second (after compilation) and the process's peak resident memory for the
   ``flags/qrnn/dna.flags`` preset (8 qubits + 2 ancillas, batch 128) and the 12-qubit
   ``flags/qrnn/digits36_12q.flags`` preset (2 + 8 qubits + 2 ancillas, 50 images per digit);
2. dna: for sentence lengths 5, 10, 20, 50 the fraction of seeds whose validation character
   error reaches 0 within the epoch budget, for the QRNN of the dna preset (837 parameters) and
   a Keras LSTM (hidden 10, 848 parameters) and SimpleRNN (hidden 22, 866 parameters) trained
   on the same batches with Adam at the same learning rate (the paper: the QRNN converges in
   most runs up to length 500, the RNN not from length 20 on);
3. digits01: test accuracy (the label token's most probable value) of the digits01 preset after
   the epoch budget (the paper on MNIST 0/1: 98.6%).
"""
import argparse
import dataclasses
import os
import resource
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfqsr.qrnn.config import QRNNConfig  # noqa: E402
from tfqsr.qrnn.trainer import build_trainer  # noqa: E402
from tfqsr.runtime.distributed import Distributed  # noqa: E402
from tfqsr.runtime.logging import read_metrics  # noqa: E402

FLAGS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "flags", "qrnn")
ONE_PROCESS = Distributed(use_horovod=False)


def preset(name, **changes):
    """The QRNNConfig of a preset in flags/qrnn/ (its ``--name=value`` lines), with changes."""
    types = {f.name: f.type for f in dataclasses.fields(QRNNConfig)}
    values = {}
    with open(os.path.join(FLAGS_DIR, name)) as f:
        for line in f:
            if line.startswith("--"):
                key, _, value = line.strip()[2:].partition("=")
                values[key] = types[key](value)
    return QRNNConfig(**{**values, **changes}).validate()


def trainer_of(config):
    keras.utils.set_random_seed(config.seed)
    return build_trainer(config, ONE_PROCESS)[0]


def speed(name, epochs):
    """Epochs per second after compilation, and the peak memory of the process so far."""
    config = preset(name, num_validation_samples=0, validate_every=10 ** 6, stop_at_loss=None)
    trainer = trainer_of(config)
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        trainer.fit(1, run_dir, verbose=0)
        compiled = time.perf_counter() - start
        start = time.perf_counter()
        trainer.fit(1 + epochs, run_dir, verbose=0)  # continues from epoch 1: no compilation
        rate = epochs / (time.perf_counter() - start)
    per = " per digit" if config.dataset.startswith("digits") else ""
    print(f"  {name}: {rate:.3g} epochs/s ({config.batch_size} sequences{per} per epoch, "
          f"{trainer.model.count_params()} parameters; compilation and first epoch "
          f"{compiled:.0f} s), peak resident memory {peak_memory_mib():.0f} MiB", flush=True)


def peak_memory_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def qrnn_converges(length, seed, epochs, batch_size, jit_compile):
    """True if the dna preset's QRNN reaches validation character error 0 (validated every 10
    epochs; stop at loss 0.001 as the original's experiment)."""
    config = preset("dna.flags", sentence_length=length, seed=seed, epochs=epochs,
                    batch_size=batch_size, num_validation_samples=0, jit_compile=jit_compile)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer_of(config).fit(config.epochs, run_dir, verbose=0)
        errors = [r["val_character_error"] for r in read_metrics(run_dir) if "val_loss" in r]
    return min(errors) == 0.0


def classical_converges(kind, length, seed, epochs, batch_size, learning_rate=0.01):
    """True if a Keras LSTM/SimpleRNN of about the QRNN's parameter count reaches character
    error 0 on the validation batch, trained on the same task's batches (one-hot tokens
    0..L-2 in, the final target out)."""
    from tfqsr.qrnn.datasets import make_task
    task = make_task("dna", length)
    keras.utils.set_random_seed(seed)
    layer = keras.layers.LSTM(10) if kind == "lstm" else keras.layers.SimpleRNN(22)
    model = keras.Sequential([keras.Input((length - 1, 8)), layer, keras.layers.Dense(8)])
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def data(split, epoch):
        inputs, targets, _ = task.batch(np.random.default_rng([seed, epoch]), batch_size,
                                        split=split)
        return np.eye(8)[inputs[:, :-1]], targets[:, -1]

    x_val, y_val = data("validate", 10 ** 6)
    for epoch in range(epochs):
        model.train_on_batch(*data("train", epoch))
        if (epoch + 1) % 10 == 0:
            prediction = np.argmax(model.predict_on_batch(x_val), axis=1)
            if (prediction == y_val).all():
                return True
    return False


def dna(lengths, seeds, epochs, batch_size, jit_compile=True):
    print(f"dna: fraction of {seeds} seeds reaching zero character error within {epochs} "
          f"epochs (batch {batch_size})", flush=True)
    for length in lengths:
        fractions = {}
        for name in ("qrnn", "lstm", "rnn"):
            hits = [qrnn_converges(length, seed, epochs, batch_size, jit_compile)
                    if name == "qrnn" else
                    classical_converges(name, length, seed, epochs, batch_size)
                    for seed in range(1, seeds + 1)]
            fractions[name] = np.mean(hits)
        print(f"  length {length:3d}: QRNN {fractions['qrnn']:.2f}, LSTM {fractions['lstm']:.2f}, "
              f"RNN {fractions['rnn']:.2f}", flush=True)


def digits01(epochs):
    """Test accuracy of the digits01 preset: the most probable label token at the last step."""
    config = preset("digits01.flags", epochs=epochs, num_validation_samples=0)
    trainer = trainer_of(config)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer.fit(config.epochs, run_dir, verbose=0)
        trainer.restore_best(run_dir)
    inputs, targets, scored = trainer.train_data.task.examples("test")
    run = tf.function(trainer.model.run)
    correct = []
    for start in range(0, len(inputs), 64):
        rows = slice(start, start + 64)
        p = run(tf.constant(inputs[rows]), tf.constant(targets[rows]))["probabilities"].numpy()
        correct.append(np.argmax(p[:, -1], axis=1) == targets[rows, -1])
    accuracy = np.concatenate(correct).mean()
    print(f"digits01: test accuracy {accuracy:.3f} on {len(inputs)} images after {epochs} epochs "
          f"(paper, MNIST 0/1: 0.986)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (docs/qrnn.md)")
    parser.add_argument("--parts", default="speed,dna,digits01")
    args = parser.parse_args()
    parts = args.parts.split(",")
    if "speed" in parts:
        print("speed (after compilation):", flush=True)
        speed("dna.flags", 5 if args.quick else 50)
        speed("digits36_12q.flags", 1 if args.quick else 10)
    if "dna" in parts:
        if args.quick:
            dna([5, 10], seeds=2, epochs=150, batch_size=32, jit_compile=False)
        else:
            dna([5, 10, 20, 50], seeds=10, epochs=5000, batch_size=128)
    if "digits01" in parts:
        digits01(100 if args.quick else 2000)


if __name__ == "__main__":
    main()
