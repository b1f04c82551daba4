"""Callbacks of the epoch runtime whose state survives an interruption.

They are Keras callbacks (``on_epoch_begin``, ``on_epoch_end``, ``on_train_end``, ``model``,
``model.stop_training``) with the decision rules of Keras's own ``EarlyStopping`` and
``ReduceLROnPlateau``, but their state (best value, epochs waited, cooldown, best weights) is
held in ``tf.Variable``s of a ``tf.Module`` (``callback.state``), which ``EpochTrainer`` saves in
every checkpoint. Keras keeps that state in plain Python attributes that no checkpoint holds
and resets it in ``on_train_begin``, so a resumed run would forget how long it has waited and
which weights were best; ``EpochTrainer`` refuses those Keras classes for that reason.

Stateless Keras callbacks (``LambdaCallback``, ``TerminateOnNaN``, ``LearningRateScheduler``
when the model is compiled with the trainer's optimizer: its only state, the learning rate,
lives in the optimizer) run unchanged.

``patience`` counts the epochs at which the monitored value is logged: with validation every
k epochs and a ``val_`` monitor, the validations.
"""
import keras
import numpy as np
import tensorflow as tf

from tfqsr import validation


class Monitor(tf.Module):
    """The best value of a logged quantity so far, and how long it has not improved.

    Args:
      monitor: the key in an epoch's logs (e.g. "val_loss").
      mode: "min" (lower is better) or "max".
      min_delta: a value improves on the best only by more than this (absolute, >= 0).

    State (checkpointed): ``best`` (float64, +-inf before the first value), ``wait`` (int64).
    """

    def __init__(self, monitor, mode="min", min_delta=0.0):
        super().__init__(name=None)
        validation.check(mode in ("min", "max"), "mode", "'min' or 'max'", mode)
        validation.check(min_delta >= 0, "min_delta", "a number >= 0", min_delta)
        self.monitor, self.mode, self.min_delta = monitor, mode, float(min_delta)
        self.best = tf.Variable(np.inf if mode == "min" else -np.inf, dtype=tf.float64,
                                trainable=False, name="best")
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False, name="wait")

    def improves(self, value):
        """True if ``value`` beats the best by more than ``min_delta`` (Keras's rule)."""
        best = float(self.best.numpy())
        return value < best - self.min_delta if self.mode == "min" else value > best + self.min_delta


class CheckpointedCallback(keras.callbacks.Callback):
    """A Keras callback whose state is ``self.state``, a ``tf.Module`` that ``EpochTrainer``
    checkpoints (and creates no variables after ``set_model``)."""

    state: tf.Module


class EarlyStopping(CheckpointedCallback):
    """Stop when ``monitor`` has not improved for ``patience`` logged values (Keras's rule).

    Args:
      monitor, mode, min_delta: see ``Monitor``.
      patience: stop once the monitored value has failed to improve this many times in a row
        (integer >= 0; never at the first epoch).
      restore_best_weights: at the end of training (stopped or completed) the model's weights
        become those of the best epoch; they are kept in variables, checkpointed with the rest.

    State: ``state.best``, ``state.wait``, ``state.best_epoch`` (0-based, -1 before any
    value), ``state.stopped_epoch`` (0-based, -1 while running) and ``state.best_weights``.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="min",
                 restore_best_weights=False):
        super().__init__()
        self.monitor = monitor
        self.patience = validation.integer("patience", patience, 0)
        self.restore_best_weights = bool(restore_best_weights)
        self.state = Monitor(monitor, mode, min_delta)
        self.state.best_epoch = tf.Variable(-1, dtype=tf.int64, trainable=False)
        self.state.stopped_epoch = tf.Variable(-1, dtype=tf.int64, trainable=False)

    def set_model(self, model):
        super().set_model(model)
        if self.restore_best_weights:
            self.state.best_weights = [tf.Variable(tf.zeros(w.shape, w.dtype), trainable=False)
                                       for w in model.weights]

    def _keep_weights(self, epoch):
        self.state.best_epoch.assign(epoch)
        if self.restore_best_weights:
            for kept, weight in zip(self.state.best_weights, self.model.weights):
                kept.assign(weight)

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        if self.state.best_epoch < 0:
            self._keep_weights(epoch)
        self.state.wait.assign_add(1)
        if self.state.improves(current):
            self.state.best.assign(current)
            self._keep_weights(epoch)
            self.state.wait.assign(0)
        elif self.state.wait >= self.patience and epoch > 0:
            self.state.stopped_epoch.assign(epoch)
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.state.best_epoch >= 0:
            for weight, kept in zip(self.model.weights, self.state.best_weights):
                weight.assign(kept)


def _learning_rate(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class ReduceLROnPlateau(CheckpointedCallback):
    """Multiply the learning rates of ``optimizers`` by ``factor`` when ``monitor`` has not
    improved for ``patience`` logged values (Keras's rule, as PyTorch's scheduler of that name
    with an absolute threshold), never below ``min_lr``; then wait ``cooldown`` logged values
    before counting again.

    Args:
      optimizers: the Keras optimizers to adjust (a list; e.g. every parameter group's). Their
        learning rates must be numbers, not schedules.
      monitor, mode, min_delta: see ``Monitor``.
      factor: in (0, 1).
      patience, cooldown: integers >= 0.
      min_lr: lower bound of the learning rates.

    State: ``state.best``, ``state.wait``, ``state.cooldown``; the learning rates themselves
    live in the optimizers (checkpointed with them).
    """

    def __init__(self, optimizers, monitor="val_loss", factor=0.1, patience=10, mode="min",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        validation.check(0 < factor < 1, "factor", "a number in (0, 1)", factor)
        self.optimizers = list(optimizers)
        self.monitor, self.factor, self.min_lr = monitor, float(factor), float(min_lr)
        self.patience = validation.integer("patience", patience, 0)
        self.cooldown = validation.integer("cooldown", cooldown, 0)
        self.state = Monitor(monitor, mode, min_delta)
        self.state.cooldown = tf.Variable(0, dtype=tf.int64, trainable=False)

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        state = self.state
        if state.cooldown > 0:
            state.cooldown.assign_sub(1)
            state.wait.assign(0)
        if state.improves(current):
            state.best.assign(current)
            state.wait.assign(0)
        elif state.cooldown == 0:
            state.wait.assign_add(1)
            if state.wait >= self.patience and self._reduce():
                state.cooldown.assign(self.cooldown)
                state.wait.assign(0)

    def _reduce(self):
        reduced = False
        for optimizer in self.optimizers:
            old = _learning_rate(optimizer)
            if old > np.float32(self.min_lr):
                optimizer.learning_rate = max(old * self.factor, self.min_lr)
                reduced = True
        return reduced


class EpochSchedule(keras.callbacks.Callback):
    """Set ``optimizer``'s learning rate to ``schedule(epoch)`` (0-based) at the start of every
    epoch: a per-epoch schedule such as PyTorch's StepLR, ExponentialLR or CosineAnnealingLR
    stepped per epoch. ``schedule`` is a ``keras.optimizers.schedules.LearningRateSchedule``
    (evaluated at the epoch instead of the step) or any callable of the epoch. Stateless: the
    rate is a function of the epoch, and the current one is checkpointed in the optimizer.
    For a per-step schedule pass the schedule to the optimizer itself."""

    def __init__(self, optimizer, schedule):
        super().__init__()
        self.optimizer, self.schedule = optimizer, schedule

    def on_epoch_begin(self, epoch, logs=None):
        self.optimizer.learning_rate = float(keras.ops.convert_to_numpy(self.schedule(epoch)))
