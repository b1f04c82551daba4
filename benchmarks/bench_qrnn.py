"""Speed and accuracy of the quantum recurrent network (issue 13).

    python benchmarks/bench_qrnn.py                  # everything, the issue's sizes (hours)
    python benchmarks/bench_qrnn.py --quick          # reduced: minutes
    python benchmarks/bench_qrnn.py --seeds 3 --epochs 300 --batch-size 32 --digits-epochs 1000
                                                     # the figures in docs/qrnn.md (about 1.5 h)

Prints:

1. speed: epochs per second (after compilation) and the process's peak resident memory for the
   ``flags/qrnn/dna.flags`` preset (8 qubits + 2 ancillas, batch 128) and the 12-qubit
   ``flags/qrnn/digits36_12q.flags`` preset (2 + 8 qubits + 2 ancillas, 50 images per digit);
2. dna: for sentence lengths 5, 10, 20, 50 the fraction of seeds whose validation character
   error reaches 0 within the epoch budget, for the QRNN of the dna preset (837 parameters) and
   a Keras LSTM (hidden 10, 848 parameters) and SimpleRNN (hidden 22, 866 parameters) trained
   on the same batches with Adam at the same learning rate (the paper: the QRNN converges in
   most runs up to length 500, the RNN not from length 20 on); a run stops at its first
   validation with character error 0;
   ``--parts dna-free``: the trained QRNN's error with the original's evaluation (unscored
   steps postselected on their targets, which in dna are the answer) against free running;
   ``--parts dna-blank``: the QRNN trained and validated with those targets 0;
3. digits01: test accuracy (the label token's most probable value) of the digits01 preset at
   several points of the epoch budget and of its best-validation checkpoint at the end (the
   paper on MNIST 0/1: 98.6%).
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


class StopAtZeroError(keras.callbacks.Callback):
    """End a benchmark run at its first validation with character error 0 (stateless)."""

    def on_epoch_end(self, epoch, logs=None):
        if (logs or {}).get("val_character_error", 1.0) == 0.0:
            self.model.stop_training = True


class BlankTargets:
    """A task whose unscored targets are 0: postselection there tells the network nothing
    (in dna the original's targets after the marked base are that base, the answer)."""

    def __init__(self, task):
        self.task = task

    def batch(self, *args, **kwargs):
        inputs, targets, scored = self.task.batch(*args, **kwargs)
        targets = targets.copy()
        targets[:, 1:][~scored] = 0
        return inputs, targets, scored


def qrnn_converges(length, seed, epochs, batch_size, jit_compile, free_running=False,
                   blank=False):
    """(True if the dna preset's QRNN reaches validation character error 0 (validated every 10
    epochs), epochs run); with ``free_running`` also the character errors of the trained
    network on 512 new validation sequences measured as the original does (unscored steps
    postselected on their targets) and free running (every step's output sampled); with
    ``blank`` trained and validated on ``BlankTargets``."""
    config = preset("dna.flags", sentence_length=length, seed=seed, epochs=epochs,
                    batch_size=batch_size, num_validation_samples=0, jit_compile=jit_compile)
    trainer = trainer_of(config)
    if blank:
        trainer.train_data.task = trainer.validation_data.task = BlankTargets(
            trainer.train_data.task)
    stop = StopAtZeroError()
    stop.set_model(trainer.model)
    trainer.callbacks.append(stop)
    with tempfile.TemporaryDirectory() as run_dir:
        _, done = trainer.fit(config.epochs, run_dir, verbose=0)
        errors = [r["val_character_error"] for r in read_metrics(run_dir) if "val_loss" in r]
    if not free_running:
        return min(errors) == 0.0, done
    inputs, targets, scored = trainer.train_data.task.batch(
        np.random.default_rng([seed, 99]), 512, split="validate")
    run = tf.function(trainer.model.run)
    rates = []
    for sampled in (scored, np.ones_like(scored)):
        out = run(tf.constant(inputs), tf.constant(targets), tf.constant(sampled),
                  tf.constant([seed, 7], tf.int64))["outcomes"].numpy()
        rates.append(float((out[:, -1] != targets[:, -1]).mean()))
    return min(errors) == 0.0, done, rates


def dna_free_running(lengths, seeds, epochs, batch_size, jit_from):
    """The original's evaluation postselects the unscored steps on their targets, and in dna
    (as RVQE's dna.py) every target after the marked base is that base: the answer is
    postselected into the network at every step before the scored one. Trained as ``dna``,
    the character error with that evaluation against free running."""
    print("dna: last-base error on 512 new sequences after training, postselected on the "
          "targets at unscored steps (the original) / free running (every output sampled)",
          flush=True)
    for length in lengths:
        for seed in range(1, seeds + 1):
            hit, done, (postselected, free) = qrnn_converges(
                length, seed, epochs, batch_size, jit_from is not None and length >= jit_from,
                free_running=True)
            print(f"  length {length:3d} seed {seed}: reached 0 {hit} at epoch {done}; error "
                  f"postselected {postselected:.3f}, free running {free:.3f}", flush=True)


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
                return True, epoch + 1
    return False, epochs


def dna_blank(lengths, seeds, epochs, batch_size, jit_from):
    """The QRNN on dna with the unscored targets 0 (``BlankTargets``): the memory task without
    the answer postselected in (the LSTM and RNN never see those targets)."""
    print(f"dna, unscored targets 0: fraction of seeds reaching zero character error within "
          f"{epochs} epochs (batch {batch_size})", flush=True)
    for length in lengths:
        hits = [qrnn_converges(length, seed, epochs, batch_size,
                               jit_from is not None and length >= jit_from, blank=True)
                for seed in range(1, seeds + 1)]
        print(f"  length {length:3d}: QRNN {np.mean([h for h, _ in hits]):.2f} epochs "
              f"{[done for _, done in hits]}", flush=True)


def dna(lengths, seeds, epochs, batch_size, jit_from=None, seeds_at=None):
    """``seeds`` seeds per length (``seeds_at``: {length: seeds} where fewer); XLA for lengths
    >= ``jit_from`` (its compilation costs a minute or two, its steps are about 10x faster)."""
    print(f"dna: fraction of seeds reaching zero character error within {epochs} epochs "
          f"(batch {batch_size}); in brackets the epochs each seed ran", flush=True)
    for length in lengths:
        fractions, ran = {}, {}
        count = (seeds_at or {}).get(length, seeds)
        jit_compile = jit_from is not None and length >= jit_from
        for name in ("qrnn", "lstm", "rnn"):
            start = time.perf_counter()
            hits = [qrnn_converges(length, seed, epochs, batch_size, jit_compile)
                    if name == "qrnn" else
                    classical_converges(name, length, seed, epochs, batch_size)
                    for seed in range(1, count + 1)]
            fractions[name] = np.mean([hit for hit, _ in hits])
            ran[name] = [done for _, done in hits]
            print(f"    length {length} {name}: {[hit for hit, _ in hits]} epochs {ran[name]} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        print(f"  length {length:3d} ({count} seeds): QRNN {fractions['qrnn']:.2f} {ran['qrnn']}, "
              f"LSTM {fractions['lstm']:.2f} {ran['lstm']}, RNN {fractions['rnn']:.2f} "
              f"{ran['rnn']}", flush=True)


def test_accuracy(trainer, run):
    """The fraction of the task's test images whose most probable label token is right."""
    inputs, targets, _ = trainer.train_data.task.examples("test")
    correct = []
    for start in range(0, len(inputs), 64):
        rows = slice(start, start + 64)
        p = run(tf.constant(inputs[rows]), tf.constant(targets[rows]))["probabilities"].numpy()
        correct.append(np.argmax(p[:, -1], axis=1) == targets[rows, -1])
    return np.concatenate(correct).mean(), len(inputs)


def digits01(epochs, points=4, **changes):
    """Test accuracy of the digits01 preset (with ``changes``) at ``points`` evenly spaced
    epochs of the budget, then of its best-validation checkpoint."""
    config = preset("digits01.flags", epochs=epochs, num_validation_samples=0, **changes)
    trainer = trainer_of(config)
    run = tf.function(trainer.model.run)
    label = ", ".join(f"{k} {v}" for k, v in changes.items()) or "as the preset"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        for point in range(1, points + 1):
            trainer.fit(epochs * point // points, run_dir, verbose=0)
            accuracy, images = test_accuracy(trainer, run)
            rows = [r for r in read_metrics(run_dir) if "val_loss" in r]
            print(f"  digits01 ({label}) epoch {epochs * point // points}: test accuracy "
                  f"{accuracy:.3f}, val_loss {rows[-1]['val_loss']:.3f}, val character error "
                  f"{rows[-1]['val_character_error']:.3f} ({time.perf_counter() - start:.0f} s)",
                  flush=True)
        best = trainer.restore_best(run_dir)
    accuracy, images = test_accuracy(trainer, run)
    print(f"digits01 ({label}): test accuracy {accuracy:.3f} on {images} images at the best "
          f"validation loss (epoch {best} of {epochs}; paper, MNIST 0/1: 0.986)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (docs/qrnn.md)")
    parser.add_argument("--parts", default="speed,dna,digits01")
    parser.add_argument("--lengths", default="5,10,20,50", help="dna sentence lengths")
    parser.add_argument("--seeds", type=int, default=10, help="dna seeds per length")
    parser.add_argument("--seeds-at-50", type=int, default=None, help="fewer seeds at length 50")
    parser.add_argument("--epochs", type=int, default=5000, help="dna epoch budget per run")
    parser.add_argument("--batch-size", type=int, default=128, help="dna sequences per epoch")
    parser.add_argument("--jit-from", type=int, default=20,
                        help="XLA for dna lengths from this on (0: always)")
    parser.add_argument("--digits-epochs", type=int, default=2000)
    parser.add_argument("--digits-learning-rate", type=float, default=None)
    parser.add_argument("--digits-batch-size", type=int, default=None)
    args = parser.parse_args()
    parts = args.parts.split(",")
    if "speed" in parts:
        print("speed (after compilation):", flush=True)
        speed("dna.flags", 5 if args.quick else 50)
        speed("digits36_12q.flags", 1 if args.quick else 5)
    if "dna" in parts:
        if args.quick:
            dna([5, 10], seeds=2, epochs=150, batch_size=32)
        else:
            dna([int(n) for n in args.lengths.split(",")], seeds=args.seeds, epochs=args.epochs,
                batch_size=args.batch_size, jit_from=args.jit_from,
                seeds_at={50: args.seeds_at_50} if args.seeds_at_50 else None)
    if "dna-free" in parts:
        dna_free_running([int(n) for n in args.lengths.split(",")], args.seeds, args.epochs,
                         args.batch_size, args.jit_from)
    if "dna-blank" in parts:
        dna_blank([int(n) for n in args.lengths.split(",")], args.seeds, args.epochs,
                  args.batch_size, args.jit_from)
    if "digits01" in parts:
        changes = {k: v for k, v in (("learning_rate", args.digits_learning_rate),
                                     ("batch_size", args.digits_batch_size)) if v is not None}
        digits01(100 if args.quick else args.digits_epochs, points=1 if args.quick else 4,
                 **changes)


if __name__ == "__main__":
    main()
