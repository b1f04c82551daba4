"""Training a QRNN on the epoch runtime (``tfqsr.runtime.epochs``), as RVQE's ``main.py`` does.

One epoch is one batch per shard (the original's step), drawn from the task by a numpy
generator seeded with (seed, epoch, batch, shard), so the data position is part of every
checkpoint and a resumed run reads the same batches. The loss (``model.sequence_metrics``,
postselected on every target) is minimized with the chosen optimizer, gradients clipped to a
global norm of 0.5 and averaged over the shards (Horovod); L-BFGS makes one step per batch
with up to 20 evaluations of loss and gradient on it (``ClosureTrainer``), as the original.
Every ``validate_every`` epochs and after the last, a validation batch (drawn once, from the
task's validation split where it has one) is run with measurements at the scored positions:
``val_loss``, ``val_character_error``; the best ``val_loss`` is kept in ``checkpoints/best``.
``stop_at_loss`` ends the run once ``val_loss`` falls below it.

Run directory (``runtime.epochs``): config.json, metrics.jsonl (per epoch: loss,
min_postselection, grad_norm, learning_rate; at validations val_loss, val_character_error,
val_min_postselection), events/, checkpoints/ (+ best/), samples.txt (a few validation
sequences and what the network measured, ``num_validation_samples`` per validation),
plots/training.png (loss and character error against epoch) and export/model.keras.
"""
import os

import keras
import numpy as np
import tensorflow as tf

from tfqsr.qrnn.lbfgs import LBFGS
from tfqsr.qrnn.model import QRNN, sequence_metrics
from tfqsr.runtime.datasets import Dataset, fold_seed
from tfqsr.runtime.epochs import EpochTrainer
from tfqsr.runtime.experiment import Experiment

CLIP_NORM = 0.5
PLOT = os.path.join("plots", "training.png")
SAMPLES = "samples.txt"
_SAMPLE_STREAM = 2  # seeds of the printed validation samples: fold_seed(seed + this, epoch)


class TaskDataset(Dataset):
    """A ``datasets.Task`` as a runtime ``Dataset``: ``batches`` batches per epoch, shard s of
    batch i of epoch e drawn with ``numpy.random.default_rng([seed, e, i, s])`` from ``split``."""

    def __init__(self, task, batch_size, *, seed=0, split="train", batches=1):
        self.task, self.batch_size, self.seed = task, batch_size, seed
        self.split, self.batches = split, batches

    def batches_per_epoch(self, num_shards=1):
        return self.batches

    def batch(self, epoch, index, shard=0, num_shards=1):
        rng = np.random.default_rng([self.seed, epoch, index, shard])
        inputs, targets, scored = self.task.batch(rng, self.batch_size, shard, num_shards,
                                                  self.split)
        return tf.constant(inputs, tf.int32), tf.constant(targets, tf.int32), tf.constant(scored)


def build_optimizer(config):
    """The original's optimizers in Keras: adam is AdamW (decoupled weight decay, eps 1e-8),
    rmsprop with PyTorch's rho 0.99 and eps 1e-8, sgd (``weight_decay`` as given), lbfgs
    (``tfqsr.qrnn.lbfgs``: history 40, up to 20 iterations per batch, no weight decay, as the
    original)."""
    rate, decay = config.learning_rate, config.weight_decay or None
    if config.optimizer == "adam":
        return keras.optimizers.AdamW(rate, weight_decay=config.weight_decay, epsilon=1e-8)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(rate, rho=0.99, epsilon=1e-8, weight_decay=decay)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(rate, weight_decay=decay)
    if config.optimizer == "lbfgs":
        return LBFGS(rate, history_size=40)
    raise ValueError(f"optimizer {config.optimizer!r} has no Keras optimizer")


class ClosureTrainer(EpochTrainer):
    """``EpochTrainer`` whose L-BFGS optimizer takes one step per batch with its closure
    evaluations, as the original's ``optimizer.step(closure)``: every evaluation is the loss
    and gradient on the same batch (and seed), averaged over the shards and clipped as the
    runtime's (``tfqsr.qrnn.lbfgs``). The logged metrics are those of the first evaluation
    (before the step). Other optimizers train as ``EpochTrainer``."""

    def apply_gradients(self, loss, grads, batch, seed):
        (optimizer, variables), = self.groups.values()
        if not isinstance(optimizer, LBFGS):
            return super().apply_gradients(loss, grads, batch, seed)

        def loss_and_grads():
            metrics, closure_grads, _, _ = self.batch_gradients(batch, seed)
            return metrics["loss"], closure_grads

        # every later closure evaluation must be finite too, or nothing changes
        return optimizer.minimize(loss_and_grads, variables, loss, grads)


class StopAtLoss(keras.callbacks.Callback):
    """Stop the run once ``val_loss`` is below ``threshold`` (stateless: the trainer's checkpoint
    keeps the stop)."""

    def __init__(self, threshold):
        super().__init__()
        self.threshold = threshold

    def on_epoch_end(self, epoch, logs=None):
        if "val_loss" in (logs or {}) and logs["val_loss"] < self.threshold:
            self.model.stop_training = True


class SetLearningRate(keras.callbacks.Callback):
    """``resume --override_learning_rate``: set the optimizer's rate after the restore."""

    def __init__(self, optimizer, rate):
        super().__init__()
        self.optimizer, self.rate = optimizer, rate

    def on_train_begin(self, logs=None):
        self.optimizer.learning_rate.assign(self.rate)


class ValidationSamples(keras.callbacks.Callback):
    """After every validation, append ``count`` validation sequences and what the network
    measured on them to ``RUN/samples.txt`` (rank 0; its own seeds, so training is unchanged)."""

    def __init__(self, task, batch, count, seed, distributed):
        super().__init__()
        self.task, self.batch, self.count, self.seed = task, batch, count, seed
        self.distributed, self.run_dir, self._run = distributed, None, None

    def on_epoch_end(self, epoch, logs=None):
        if "val_loss" not in (logs or {}) or not self.distributed.is_chief or not self.run_dir:
            return
        if self._run is None:
            self._run = tf.function(self.model.run)
        inputs, targets, scored = (t[:self.count] for t in self.batch)
        out = self._run(inputs, targets, scored, fold_seed(self.seed + _SAMPLE_STREAM, epoch))
        lines = [f"epoch {epoch + 1}"]
        for target, outcome in zip(targets.numpy(), out["outcomes"].numpy()):
            lines += [f"  gold {self.task.describe(target[1:])}",
                      f"  pred {self.task.describe(outcome)}"]
        with open(os.path.join(self.run_dir, SAMPLES), "a") as f:
            f.write("\n".join(lines) + "\n")


def build_model(config, input_width):
    return QRNN(config.workspace, input_width, config.stages, config.order, config.degree,
                initial_bias=config.initial_bias,
                initial_weights_spread=config.initial_weights_spread,
                initial_bias_spread=config.initial_bias_spread,
                initial_unitaries_spread=config.initial_unitaries_spread)


def build_trainer(config, distributed, *, learning_rate=None):
    """(``EpochTrainer`` of a QRNN run, its ``ValidationSamples`` callback): the model, the
    optimizer, the task's training and validation data and the callbacks of ``config``;
    ``learning_rate`` is set after a restore (``resume --override_learning_rate``)."""
    task = config.task()
    model = build_model(config, task.input_width)
    optimizer = build_optimizer(config)
    train_data = TaskDataset(task, config.batch_size, seed=config.seed)
    validation_data = TaskDataset(task, config.batch_size, seed=config.seed + 1,
                                  split="validate")

    def loss_fn(batch, seed, training):
        return sequence_metrics(model, batch, loss=config.loss, training=training, seed=seed)

    samples = ValidationSamples(task,
                                validation_data.batch(0, 0, distributed.rank, distributed.size),
                                config.num_validation_samples, config.seed, distributed)
    callbacks = [samples] if config.num_validation_samples else []
    if config.stop_at_loss is not None:
        callbacks.append(StopAtLoss(config.stop_at_loss))
    if learning_rate is not None:
        callbacks.append(SetLearningRate(optimizer, learning_rate))
    trainer = ClosureTrainer(model, loss_fn, train_data, optimizer=optimizer,
                             validation_data=validation_data, validate_every=config.validate_every,
                             callbacks=callbacks, clip_norm=CLIP_NORM, seed=config.seed,
                             distributed=distributed, jit_compile=config.jit_compile)
    return trainer, samples


def qrnn_experiment(config, distributed, *, restore=None, learning_rate=None):
    """The ``runtime.experiment.Experiment`` of a QRNN run (module docstring). ``restore``: a
    checkpoint to continue from instead of the newest; ``learning_rate``: set after the restore
    (``resume`` overrides)."""
    trainer, samples = build_trainer(config, distributed, learning_rate=learning_rate)
    model = trainer.model

    def fit(run_dir, verbose):
        samples.run_dir = run_dir
        outcome, epoch = trainer.fit(
            config.epochs, run_dir, checkpoint_every=config.checkpoint_every,
            timeout=config.timeout, restore=restore, verbose=verbose,
            progress_keys=("loss", "val_loss", "val_character_error", "min_postselection"))
        if distributed.is_chief:
            plot_training(run_dir)
        return outcome, epoch

    def export(directory):
        os.makedirs(directory, exist_ok=True)
        model.save(os.path.join(directory, "model.keras"))

    task = trainer.train_data.task
    rows = task.rows_per_shard(config.batch_size)
    description = (f"QRNN on {config.dataset}: {task.input_width} + {config.workspace} qubits "
                   f"(+{config.order} ancillas in the circuit), {config.stages} stages, order "
                   f"{config.order}, degree {config.degree}, {model.count_params()} parameters, "
                   f"{rows} sequences per shard x {distributed.size} shards")
    return Experiment(fit=fit, export=export, description=description)


def plot_training(run_dir):
    """plots/training.png: training and validation loss and the validation character error
    against epoch (from metrics.jsonl)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tfqsr.runtime.logging import read_metrics

    rows = read_metrics(run_dir)
    if not rows:
        return None
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(6, 5))
    top.plot([r["epoch"] for r in rows], [r["loss"] for r in rows], lw=0.8, label="training")
    validated = [r for r in rows if "val_loss" in r]
    top.plot([r["epoch"] for r in validated], [r["val_loss"] for r in validated], "o-", ms=2,
             label="validation")
    top.set_ylabel("loss")
    top.set_yscale("symlog", linthresh=1e-3)
    top.legend()
    bottom.plot([r["epoch"] for r in validated], [r["val_character_error"] for r in validated],
                "o-", ms=2, color="C1")
    bottom.set_ylabel("character error")
    bottom.set_xlabel("epoch")
    bottom.set_ylim(-0.02, 1.02)
    path = os.path.join(run_dir, PLOT)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    figure.tight_layout()
    temporary = path + ".tmp.png"
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    os.replace(temporary, path)
    return path
