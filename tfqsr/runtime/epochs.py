"""Epoch-based training with validation, beside the step loop (``runtime.training``).

    trainer = EpochTrainer(model, loss_fn, ArrayDataset((x, y), 32), optimizer=keras.optimizers.Adam(1e-3),
                           validation_data=ArrayDataset((x_val, y_val), 256, shuffle=False),
                           callbacks=[EarlyStopping("val_loss", patience=5, restore_best_weights=True)])
    outcome, epoch = trainer.fit(100, run_dir)

An epoch reads every batch of the training ``Dataset`` (``runtime.datasets``) once, in an order
that is a pure function of (seed, epoch); the run's data position is (epoch, batch index).
Each batch: ``loss_fn`` under a ``tf.GradientTape``, gradients averaged over ranks (weighted by
each rank's rows), clipped to a global p-norm, applied by each parameter group's optimizer; a
NaN/inf loss or gradient skips the update and stops the run (``NonFiniteLossError``). After
the last batch of every ``validate_every``-th epoch (and of the last one) the validation data
is evaluated; the epoch's row (training means, ``val_`` means, learning rates) goes to
metrics.jsonl and TensorBoard; callbacks run (``runtime.callbacks``: early stopping,
reduce-on-plateau, per-epoch schedules, or stateless Keras callbacks); a new best value of
``best_monitor`` saves ``checkpoints/best/``.

Run directory (rank 0 writes, every rank reads)::

    RUN/metrics.jsonl          one row per epoch: {"epoch": 1, "loss": ..., "grad_norm": ...,
                               "val_loss": ..., "learning_rate": ...}
    RUN/events/                TensorBoard scalars, step = epoch
    RUN/checkpoints/ckpt-N     N = optimizer steps done; every ``checkpoint_every`` epochs, at
                               the end, and on SIGINT/SIGTERM/timeout (also mid-epoch)
    RUN/checkpoints/best/      the checkpoint of the best epoch (its own manager: rotation of
                               the others never deletes it)

Every checkpoint holds, so that an interrupted and resumed run equals an uninterrupted one
bit for bit:

    model             the Keras model (as tracked by Keras)
    model_variables   all of ``model.variables``: also the ``SeedGenerator`` states of dropout
                      and other random layers, which Keras's tracking leaves out
    optimizers        {group name: Keras optimizer}: slots, iteration count, learning rate
    generator         the tf.random.Generator that seeds each training batch
    state             epoch, batch (data position), epoch_begun, step, stopped, the running
                      sums of this epoch's metrics, and the best value of ``best_monitor``
    callbacks         the ``state`` of every ``CheckpointedCallback`` (early stopping:
                      best/wait/best weights; plateau: best/wait/cooldown), in list order

Under Horovod every rank restores the checkpoint, rank 0's model and optimizer variables are
broadcast, each rank reads its own shard of every batch, gradients and metrics are averaged,
and ranks stop together (an interrupt or timeout on any rank stops all at the same batch).
"""
import dataclasses
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfqsr import validation
from tfqsr.runtime.callbacks import CheckpointedCallback, Monitor
from tfqsr.runtime.checkpoints import Checkpointer
from tfqsr.runtime.datasets import batch_rows, fold_seed, read_batches
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.interrupt import InterruptFlag
from tfqsr.runtime.logging import MetricsLogger
from tfqsr.runtime.loop import NonFiniteLossError

BEST_DIR = os.path.join("checkpoints", "best")
# Keras callbacks whose state is in Python attributes: a resumed run would lose it.
_UNCHECKPOINTED = (keras.callbacks.EarlyStopping, keras.callbacks.ReduceLROnPlateau,
                   keras.callbacks.BackupAndRestore, keras.callbacks.ModelCheckpoint)
_VALIDATION_STREAM = 1  # validation seeds: fold_seed(seed + this, epoch, batch, shard)


def keras_loss(model, loss, metrics=None):
    """A ``loss_fn`` for a Keras model on ``(x, y)`` batches.

    Args:
      model: called as ``model(x, training=training)``; its ``losses`` (regularizers) are added.
      loss: a Keras loss (object, function or name, e.g. "mse"), averaged over the batch.
      metrics: {name: fn(y_true, y_pred)} with per-row or scalar values, averaged over the
        batch (e.g. {"accuracy": keras.metrics.sparse_categorical_accuracy}).
    """
    loss = keras.losses.get(loss)
    metrics = dict(metrics or {})

    def loss_fn(batch, seed, training):
        del seed  # Keras layers draw from their own SeedGenerators (checkpointed)
        x, y = batch
        y_pred = model(x, training=training)
        values = {name: tf.reduce_mean(fn(y, y_pred)) for name, fn in metrics.items()}
        value = tf.reduce_mean(loss(y, y_pred))
        values["loss"] = value + tf.cast(tf.add_n(model.losses), value.dtype) if model.losses else value
        return values
    return loss_fn


@dataclasses.dataclass
class Position:
    """Where a run is, kept in Python during the run and in ``_State`` in its checkpoints.

    epoch: the current epoch, 0-based (= epochs completed); batch: batches done in it;
    step: optimizer steps in all (numbers the checkpoints); epoch_begun: ``on_epoch_begin``
    has run for this epoch; stopped: a callback ended the run; names, sums, rows: this epoch's
    training metrics so far, as sums of metric x rows over its batches, and the rows.
    """
    epoch: int = 0
    batch: int = 0
    step: int = 0
    epoch_begun: bool = False
    stopped: bool = False
    names: tuple = ()
    sums: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    rows: float = 0.0

    def add(self, metrics, rows):
        """Add one batch's metrics (a dict of floats, global means) over ``rows`` rows."""
        self.names = tuple(sorted(metrics))
        values = np.array([metrics[k] for k in self.names])
        self.sums = (self.sums if self.sums.size else 0.0) + rows * values
        self.rows += rows

    def next_epoch(self):
        """Move to the start of the next epoch."""
        self.epoch, self.batch, self.epoch_begun = self.epoch + 1, 0, False
        self.names, self.sums, self.rows = (), np.zeros(0), 0.0

    def means(self):
        """This epoch's training metrics so far: row-weighted means over its batches."""
        return dict(zip(self.names, (self.sums / self.rows).tolist())) if self.rows else {}


class _State(tf.Module):
    """The trainer's checkpointed state: a ``Position`` (one variable per field, of any
    shape) and the best value of the best-checkpoint monitor."""

    DTYPES = {int: tf.int64, bool: tf.bool, float: tf.float64, tuple: tf.string,
              np.ndarray: tf.float64}

    def __init__(self, best_monitor, best_mode):
        super().__init__(name=None)
        for field in dataclasses.fields(Position):
            setattr(self, field.name, tf.Variable(
                getattr(Position(), field.name), dtype=self.DTYPES[field.type],
                shape=tf.TensorShape(None), trainable=False, name=field.name))
        self.best = Monitor(best_monitor, best_mode) if best_monitor else None

    def store(self, position):
        for name, value in dataclasses.asdict(position).items():
            getattr(self, name).assign(value)

    def load(self):
        values = {f.name: getattr(self, f.name).numpy() for f in dataclasses.fields(Position)}
        names = tuple(name.decode() for name in values.pop("names"))
        return Position(names=names, sums=values.pop("sums"),
                        **{k: v.item() for k, v in values.items()})


def global_norm(tensors, p=2.0):
    """The p-norm of all entries of ``tensors`` together: (sum |g|^p)^(1/p), or max |g| for
    p = inf. p = 2 is ``tf.linalg.global_norm``."""
    if p == 2.0:
        return tf.linalg.global_norm(tensors)
    if math.isinf(p):
        return tf.reduce_max([tf.reduce_max(tf.abs(t)) for t in tensors])
    return tf.add_n([tf.reduce_sum(tf.abs(t) ** p) for t in tensors]) ** (1.0 / p)


def clip_by_global_norm(tensors, clip_norm, norm):
    """``tensors`` scaled by min(1, clip_norm / norm), ``norm`` their global norm."""
    scale = tf.minimum(tf.ones_like(norm), tf.cast(clip_norm, norm.dtype) / norm)
    return [t * tf.cast(scale, t.dtype) for t in tensors]


class EpochTrainer:
    """Train a Keras model by epochs over a ``Dataset``; see the module docstring.

    Args:
      model: a built Keras model (its variables exist before the trainer is made).
      loss_fn: ``loss_fn(batch, seed=..., training=...)`` -> dict of scalar tensors, run
        inside ``tf.function``: "loss" (the mean over this shard's rows, minimized) and any
        other per-row means to log (e.g. "accuracy"; validation may return other keys than
        training). ``seed`` is an int64 [2] stateless seed for random ops in the loss: in
        training drawn from the trainer's generator (per batch, folded with the rank), in
        validation ``fold_seed(seed + 1, epoch, batch, shard)``. ``training`` is a Python bool.
      train_data: a ``Dataset``; under Horovod each rank reads its own shard of every batch.
      optimizer: a Keras optimizer for all of ``model.trainable_variables``; or
      parameter_groups: {name: (optimizer, variables)}, every trainable variable in exactly
        one group (e.g. own learning rate and weight decay per group).
      validation_data: a ``Dataset`` evaluated every ``validate_every`` epochs and after the last
        (its epoch 0 every time: a fixed set); its means are logged with a ``val_`` prefix.
      callbacks: Keras callbacks, ``CheckpointedCallback``s included (their state is
        checkpointed). Keras's EarlyStopping, ReduceLROnPlateau, BackupAndRestore and
        ModelCheckpoint are refused (their state would not survive a resume). Hooks called:
        ``on_train_begin`` (after the restore, every ``fit``), ``on_epoch_begin`` (once per
        epoch, not again on a mid-epoch resume), ``on_train_batch_begin/end``,
        ``on_epoch_end`` (logs of the epoch; a callback may add keys or set
        ``model.stop_training``, which ends the run after this epoch), ``on_train_end`` (when
        the run completes or stops, not when it is interrupted).
      clip_norm: clip the gradients of all groups together to this global norm (None: no
        clipping): every gradient is scaled by min(1, clip_norm / |g|_p), |g|_p the
        ``clip_norm_type``-norm of all their entries together, as
        ``torch.nn.utils.clip_grad_norm_`` (without its 1e-6 guard).
      clip_norm_type: p >= 1 of that norm, or ``math.inf`` (max |g|); 2 (default) is the
        L2 norm of ``tf.clip_by_global_norm``. The norm before clipping is logged as "grad_norm".
      data_workers: read training batches ahead in a ``tf.data`` pipeline with this many
        parallel readers (0: read each batch when it is needed, in the training thread).
      prefetch: keep one batch ready ahead (on the GPU when there is one). Neither changes
        which batches are read: the data position and exact resume are as without them.
      seed: integer seed of the generator (and of the validation seeds).
      best_monitor, best_mode: the logged quantity and its direction ("min"/"max") that select
        ``checkpoints/best``; "auto": "val_loss" with validation data, else None (no best
        checkpoint).
      distributed: a ``Distributed`` (default: Horovod under horovodrun, else one process).
      jit_compile: compile the training and evaluation steps with XLA.
    """

    def __init__(self, model, loss_fn, train_data, *, optimizer=None, parameter_groups=None,
                 validation_data=None, validate_every=1, callbacks=(), clip_norm=None, clip_norm_type=2.0,
                 seed=0, best_monitor="auto", best_mode="min", distributed=None,
                 jit_compile=False, data_workers=0, prefetch=False):
        self.model, self.loss_fn = model, loss_fn
        self.train_data, self.validation_data = train_data, validation_data
        self.validate_every = validation.integer("validate_every", validate_every, 1)
        self.clip_norm = None if clip_norm is None else validation.real("clip_norm", clip_norm)
        validation.check(isinstance(clip_norm_type, (int, float)) and not isinstance(
            clip_norm_type, bool) and clip_norm_type >= 1,
                         "clip_norm_type", "a real number >= 1 or math.inf", clip_norm_type)
        self.clip_norm_type = float(clip_norm_type)
        self.data_workers = validation.integer("data_workers", data_workers, 0)
        self.prefetch = bool(prefetch)
        self.seed = validation.integer("seed", seed)
        self.distributed = distributed or Distributed(use_horovod="auto")
        self.groups = self._groups(optimizer, parameter_groups)
        self.callbacks = list(callbacks)
        if best_monitor == "auto":
            best_monitor = None if validation_data is None else "val_loss"
        self._check_callbacks(best_monitor)
        for callback in self.callbacks:
            callback.set_model(model)
        self.generator = tf.random.Generator.from_seed(self.seed)
        self.state = _State(best_monitor, best_mode)
        self.position = Position()
        self._train_step = tf.function(self._train_batch, jit_compile=jit_compile,
                                       reduce_retracing=True)
        self._eval_step = tf.function(self._eval_batch, jit_compile=jit_compile,
                                      reduce_retracing=True)

    def _groups(self, optimizer, parameter_groups):
        if (optimizer is None) == (parameter_groups is None):
            raise ValueError("pass exactly one of optimizer and parameter_groups")
        groups = parameter_groups or {"optimizer": (optimizer, self.model.trainable_variables)}
        owner = {}
        for name, (group_optimizer, variables) in groups.items():
            for variable in variables:
                if id(variable) in owner:
                    raise ValueError(f"variable {variable.path} is in parameter groups "
                                     f"{owner[id(variable)]!r} and {name!r}")
                owner[id(variable)] = name
            group_optimizer.build(list(variables))
        missing = [v.path for v in self.model.trainable_variables if id(v) not in owner]
        if missing:
            raise ValueError(f"trainable variables in no parameter group: {missing}")
        return {name: (opt, list(variables)) for name, (opt, variables) in groups.items()}

    def _check_callbacks(self, best_monitor):
        for callback in self.callbacks:
            if isinstance(callback, _UNCHECKPOINTED):
                raise ValueError(
                    f"keras.callbacks.{type(callback).__name__} keeps its state in Python "
                    "attributes that no checkpoint holds; use tfqsr.runtime.callbacks "
                    "(EarlyStopping, ReduceLROnPlateau) and EpochTrainer's own checkpoints")
        monitors = [best_monitor] + [getattr(c, "monitor", None) for c in self.callbacks]
        unlogged = [m for m in monitors if m and m.startswith("val_")]
        if unlogged and self.validation_data is None:
            raise ValueError(f"monitors {unlogged} need validation_data, which is None")

    @property
    def optimizers(self):
        """{group name: optimizer}."""
        return {name: optimizer for name, (optimizer, _) in self.groups.items()}

    def trackables(self):
        """Everything a checkpoint holds (see the module docstring)."""
        return {"model": self.model, "model_variables": list(self.model.variables),
                "optimizers": self.optimizers, "generator": self.generator,
                "state": self.state,
                "callbacks": [c.state for c in self.callbacks if isinstance(c, CheckpointedCallback)]}

    # --- one batch ----------------------------------------------------------------------------

    def _global_means(self, metrics, rows):
        """Row-weighted means of ``metrics`` over ranks (float64) and the mean rows per rank."""
        names = sorted(metrics)
        values = [tf.cast(metrics[k], tf.float64) for k in names]
        rows = tf.cast(rows, tf.float64)
        if self.distributed.size == 1:
            return dict(zip(names, values)), rows
        *sums, mean_rows = self.distributed.allreduce_mean([rows * v for v in values] + [rows])
        return {k: s / mean_rows for k, s in zip(names, sums)}, mean_rows

    def batch_gradients(self, batch, seed):
        """The metrics of ``loss_fn`` on ``batch`` and the gradient of its "loss" with respect to
        every group's variables (in group order), both averaged over all ranks' rows, the
        gradients clipped (``clip_norm``, ``clip_norm_type``). Returns (metrics as float64,
        gradients, their norm before clipping, mean rows per rank)."""
        variables = [v for _, group in self.groups.values() for v in group]
        with tf.GradientTape() as tape:
            metrics = self.loss_fn(batch, seed=seed, training=True)
        grads = tape.gradient(metrics["loss"], variables,
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
        rows = tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.float64)
        metrics, mean_rows = self._global_means(metrics, rows)
        if self.distributed.size > 1:  # the gradient of the mean over all ranks' rows
            grads = self.distributed.average_gradients([tf.cast(rows, g.dtype) * g for g in grads])
            grads = [g / tf.cast(mean_rows, g.dtype) for g in grads]
        norm = global_norm(grads, self.clip_norm_type)
        if self.clip_norm is not None:
            grads = clip_by_global_norm(grads, self.clip_norm, norm)
        return metrics, grads, norm, mean_rows

    def apply_gradients(self, loss, grads, batch, seed):
        """Apply the (finite) ``grads`` of ``batch`` with each group's optimizer; returns a
        boolean tensor, False when the update was not made (parameters unchanged). A subclass
        may take a different step here, e.g. an optimizer that re-evaluates
        ``batch_gradients(batch, seed)`` (L-BFGS's closure)."""
        start = 0
        for optimizer, group in self.groups.values():
            optimizer.apply_gradients(zip(grads[start:start + len(group)], group))
            start += len(group)
        return tf.constant(True)

    def _train_batch(self, batch):
        seed = self.distributed.fold_rank(self.generator.make_seeds(1)[:, 0])
        metrics, grads, norm, mean_rows = self.batch_gradients(batch, seed)
        metrics["grad_norm"] = tf.cast(norm, tf.float64)
        finite = tf.math.is_finite(metrics["loss"]) & tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(g)) for g in grads])
        if finite:  # autograph: a tf.cond; the update is skipped when anything is NaN/inf
            finite = self.apply_gradients(metrics["loss"], grads, batch, seed)
        return metrics, mean_rows * self.distributed.size, finite

    def _eval_batch(self, batch, seed):
        metrics = self.loss_fn(batch, seed=seed, training=False)
        return {k: tf.cast(v, tf.float64) for k, v in metrics.items()}

    # --- evaluation ---------------------------------------------------------------------------

    def evaluate(self, data, epoch=0):
        """Means of ``loss_fn(training=False)`` over every row of ``data`` (its epoch 0; the
        loss's seeds follow from ``epoch``), all ranks together (each evaluates its shards);
        a dict of floats."""
        rank, size = self.distributed.rank, self.distributed.size
        names, sums, rows = None, None, 0
        for index in range(data.batches_per_epoch(size)):
            batch = data.batch(0, index, rank, size)
            count = batch_rows(batch)
            if count == 0:
                continue
            seed = fold_seed(self.seed + _VALIDATION_STREAM, epoch, index, rank)
            metrics = {k: v.numpy() for k, v in self._eval_step(batch, seed).items()}
            if names is None:
                names, sums = sorted(metrics), np.zeros(len(metrics))
            sums += count * np.array([metrics[k] for k in names])
            rows += count
        *sums, rows = np.asarray(self.distributed.allreduce_mean([np.append(sums, rows)])[0])
        return {k: float(s / rows) for k, s in zip(names, sums)}

    # --- the run ------------------------------------------------------------------------------

    def fit(self, epochs, run_dir, *, checkpoint_every=1, max_to_keep=3, timeout=None,
            progress_keys=("loss", "val_loss"), verbose=1, progress_interval=5.0, restore=None):
        """Train to ``epochs`` epochs in all in ``run_dir``, resuming from its newest checkpoint.

        Args:
          epochs: total epochs of the run (integer >= 1).
          checkpoint_every: epochs between periodic checkpoints.
          max_to_keep: periodic checkpoints kept (the best one is kept apart).
          timeout: seconds after which this call checkpoints and returns "timeout" (None: none).
          progress_keys, verbose, progress_interval: see ``MetricsLogger``.
          restore: a checkpoint prefix to continue from instead of the newest checkpoint (e.g.
            ``RUN/checkpoints/best/ckpt-40``); later rows of metrics.jsonl are dropped and the
            run goes on from that checkpoint's position.

        Returns (outcome, epochs done): outcome is "completed", "stopped" (a callback set
        ``model.stop_training``: early stopping), "interrupted" (SIGINT/SIGTERM) or "timeout";
        the last two resume where they stopped when ``fit`` is called again. A completed or
        stopped run returns at once. Raises ``NonFiniteLossError`` at a NaN/inf loss or
        gradient (that update skipped, nothing saved after the last checkpoint).
        """
        epochs = validation.integer("epochs", epochs, 1)
        checkpoint_every = validation.integer("checkpoint_every", checkpoint_every, 1)
        trackables = self.trackables()
        self._checkpointer = Checkpointer(os.path.join(run_dir, "checkpoints"), max_to_keep,
                                          **trackables)
        self._best = Checkpointer(os.path.join(run_dir, BEST_DIR), 1, **trackables)
        self._checkpointer.restore_latest_on_every_rank(self.distributed, restore)
        self.position = self.state.load()
        self.distributed.broadcast_variables(self.model.variables + [
            v for optimizer in self.optimizers.values() for v in optimizer.variables])
        if self.position.stopped or self.position.epoch >= epochs:
            return ("stopped" if self.position.stopped else "completed"), self.position.epoch
        logger = MetricsLogger(run_dir, epochs, start_step=self.position.epoch,
                               progress_keys=progress_keys, enabled=self.distributed.is_chief,
                               verbose=verbose, key="epoch", progress_interval=progress_interval)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with InterruptFlag() as interrupted:
                outcome = self._run(epochs, checkpoint_every, logger, interrupted, deadline)
            # Every rank waits for the chief's last checkpoint (see runtime.training).
            self.distributed.barrier()
        finally:
            logger.close()
        return outcome, self.position.epoch

    def _save(self, checkpointer=None, number=None):
        """Checkpoint (rank 0) in ``checkpointer`` (default: the periodic one) as ``number``
        (default: the step)."""
        self.state.store(self.position)
        if self.distributed.is_chief:
            (checkpointer or self._checkpointer).save(
                self.position.step if number is None else number)

    def _call(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def _agree(self, interrupted, deadline, empty):
        """(reason to stop: "interrupted", "timeout" or None; skip this batch: some rank has no
        rows in it), agreed by all ranks in one allreduce."""
        flags = np.array([bool(interrupted), deadline is not None and time.monotonic() > deadline,
                          empty], np.float32)
        interrupt, timeout, skip = np.asarray(self.distributed.allreduce_mean([flags])[0]) > 0
        return "interrupted" if interrupt else "timeout" if timeout else None, skip

    def _run(self, epochs, checkpoint_every, logger, interrupted, deadline):
        position, rank, size = self.position, self.distributed.rank, self.distributed.size
        batches = self.train_data.batches_per_epoch(size)
        if batches < 1 or position.batch >= batches:
            raise ValueError(f"train_data has {batches} batches per epoch; the run is at batch "
                             f"{position.batch} of epoch {position.epoch + 1}")
        for callback in self.callbacks:
            callback.set_params({"epochs": epochs, "steps": batches, "verbose": 0})
        self.model.stop_training = False
        self._call("on_train_begin", {})
        while position.epoch < epochs and not self.model.stop_training:
            epoch = position.epoch
            if not position.epoch_begun:
                self._call("on_epoch_begin", epoch, {})
                position.epoch_begun = True
            reader = read_batches(self.train_data, epoch, range(position.batch, batches), rank,
                                  size, workers=self.data_workers, prefetch=self.prefetch)
            for index, batch in zip(range(position.batch, batches), reader):
                reason, skip = self._agree(interrupted, deadline, batch_rows(batch) == 0)
                if reason:
                    self._save()
                    return reason
                if not skip:
                    self._call("on_train_batch_begin", index, {})
                    metrics = self._train_on(batch, epoch, index)
                    self._call("on_train_batch_end", index, metrics)
                position.batch = index + 1
                logger.progress(epoch + (index + 1) / batches, position.means())
            logs = self._end_epoch(epoch, epochs, logger)
            if not self.model.stop_training and position.epoch < epochs and (
                    position.epoch % checkpoint_every == 0):
                self._save()
        position.stopped = bool(self.model.stop_training)
        self._call("on_train_end", logs)
        self._save()
        return "stopped" if position.stopped else "completed"

    def _train_on(self, batch, epoch, index):
        """One optimizer step on ``batch``; its metrics (floats, averaged over ranks) are added
        to the position's sums and returned."""
        metrics, rows, finite = self._train_step(batch)
        if not finite:
            raise NonFiniteLossError(
                f"epoch {epoch + 1}, batch {index + 1}: the loss or its gradient is not finite "
                "(NaN/inf); the update was skipped and the parameters are those before this "
                "batch. Lower the learning rate, clip the gradients or check the model and the "
                f"data; the last checkpoint is {self._checkpointer.latest}")
        metrics = {k: float(v) for k, v in metrics.items()}
        self.position.add(metrics, float(rows))
        self.position.step += 1
        return metrics

    def _end_epoch(self, epoch, epochs, logger):
        """Validation, learning rates, callbacks, the row, the next position and the best
        checkpoint; returns the epoch's logs."""
        logs = self.position.means()
        if self.validation_data is not None and ((epoch + 1) % self.validate_every == 0
                                                 or epoch + 1 == epochs):
            logs.update({f"val_{k}": v
                         for k, v in self.evaluate(self.validation_data, epoch).items()})
        rates = {name: float(keras.ops.convert_to_numpy(optimizer.learning_rate))
                 for name, optimizer in self.optimizers.items()}
        logs.update({"learning_rate": rates.popitem()[1]} if len(rates) == 1 else
                    {f"learning_rate/{name}": rate for name, rate in rates.items()})
        self._call("on_epoch_end", epoch, logs)
        logger.log(epoch + 1, logs)
        self.position.next_epoch()
        best = self.state.best
        if best is not None and best.monitor in logs and best.improves(logs[best.monitor]):
            best.best.assign(logs[best.monitor])
            self._save(self._best, epoch + 1)
        return logs

    def restore_best(self, run_dir):
        """Load ``run_dir``'s best checkpoint (model, optimizers, state, ...) into this trainer;
        returns its epoch (1-based), or None when there is none."""
        best = Checkpointer(os.path.join(run_dir, BEST_DIR), 1, **self.trackables())
        if best.latest is None:
            return None
        best.restore(best.latest)
        self.position = self.state.load()
        return self.position.epoch
