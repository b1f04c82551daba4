"""The epoch runtime (tfqsr.runtime.epochs, callbacks, datasets) against exact answers.

Closed forms and hand-worked traces: least squares, a numpy replay of minibatch SGD, scripted
validation curves for early stopping, reduce-on-plateau and the best checkpoint, learning rates
and clipping read off the applied updates of a linear loss. Exact resume: the scenario of
tests/runtime/epoch_scenario.py, interrupted by real signals (in-process and a SIGTERM to a
subprocess), ends bitwise equal to the uninterrupted run. Horovod: two ranks equal one
process on the concatenated data (tests/runtime/epochs_horovod_worker.py).
"""
import json
import math
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.run_helpers import wait_for_metric_rows
from tests.runtime import epoch_scenario as scenario
from tfqsr.runtime.callbacks import EarlyStopping, EpochSchedule, ReduceLROnPlateau
from tfqsr.runtime.datasets import ArrayDataset, GeneratedDataset
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.epochs import BEST_DIR, EpochTrainer, keras_loss
from tfqsr.runtime.logging import MetricsLogger, Progress, read_metrics
from tfqsr.runtime.loop import NonFiniteLossError
from tfqsr.validation import ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ONE_PROCESS = Distributed(use_horovod=False)


def _linear_model(features, units=1, use_bias=True):
    model = keras.Sequential([keras.Input((features,), dtype="float64"),
                              keras.layers.Dense(units, use_bias=use_bias, dtype="float64")])
    model.layers[0].kernel.assign(np.zeros((features, units)))
    return model


def _trainer(model, loss_fn, data, **kwargs):
    if "parameter_groups" not in kwargs:
        kwargs.setdefault("optimizer", keras.optimizers.SGD(0.1))
    return EpochTrainer(model, loss_fn, data, distributed=ONE_PROCESS, **kwargs)


def _fit(trainer, run_dir, epochs, **kwargs):
    return trainer.fit(epochs, str(run_dir), verbose=0, **kwargs)


class _Record(keras.callbacks.Callback):
    """The model's weights after every batch and every epoch (copies)."""

    def __init__(self):
        super().__init__()
        self.batches, self.epochs = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append([w.numpy().copy() for w in self.model.weights])

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append([w.numpy().copy() for w in self.model.weights])


def _scripted(model, optimizer, curve, batches):
    """A mean-squared-error loss whose validation adds "score": curve[epoch just trained]."""
    mse = keras_loss(model, "mse")
    curve = tf.constant(curve, tf.float64)

    def loss_fn(batch, seed, training):
        values = mse(batch, seed, training)
        if not training:
            values["score"] = tf.gather(curve, optimizer.iterations // batches - 1)
        return values
    return loss_fn


def _regression(rows=12, features=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    return x, (x @ rng.normal(size=features) + 0.5 + 0.1 * rng.normal(size=rows))[:, None]


# --- datasets -------------------------------------------------------------------------------

def test_batch_order_is_a_pure_function_of_seed_and_epoch():
    x = np.arange(20)
    a, b = ArrayDataset(x, 4, seed=3), ArrayDataset(x, 4, seed=3)
    epoch2 = np.concatenate([a.batch(2, i).numpy() for i in range(5)])
    a.batch(0, 0)  # reading another epoch in between changes nothing
    np.testing.assert_array_equal(epoch2, np.concatenate([b.batch(2, i).numpy() for i in range(5)]))
    np.testing.assert_array_equal(np.sort(epoch2), x)  # every row once
    assert not np.array_equal(epoch2, np.concatenate([a.batch(1, i).numpy() for i in range(5)]))
    assert not np.array_equal(epoch2, ArrayDataset(x, 4, seed=4).order(2))


def test_shards_of_a_global_batch_are_the_batch_of_one_process():
    """Two shards of batch_size 3 read, together and in order, the rows one shard of
    batch_size 6 reads; the last global batch (2 of 14 rows) is split one row each."""
    data = (np.arange(14), np.arange(14) * 10)
    two, one = ArrayDataset(data, 3, seed=1), ArrayDataset(data, 6, seed=1)
    assert two.batches_per_epoch(2) == one.batches_per_epoch(1) == 3
    for index in range(3):
        shards = [two.batch(4, index, shard, 2) for shard in range(2)]
        for part in range(2):
            np.testing.assert_array_equal(np.concatenate([s[part].numpy() for s in shards]),
                                          one.batch(4, index)[part].numpy())
    assert [len(two.batch(0, 2, s, 2)[0]) for s in range(2)] == [1, 1]
    assert ArrayDataset(data, 3, drop_remainder=True).batches_per_epoch(2) == 2


def test_generated_batches_depend_on_position_and_shard_only():
    data = GeneratedDataset(lambda seed, n: tf.random.stateless_uniform([n], seed), 4, 3, seed=2)
    first = data.batch(1, 2, 0, 2).numpy()
    np.testing.assert_array_equal(first, data.batch(1, 2, 0, 2).numpy())
    assert not np.array_equal(first, data.batch(1, 2, 1, 2).numpy())
    assert not np.array_equal(first, data.batch(1, 1, 0, 2).numpy())


# --- optimization against closed forms ------------------------------------------------------

def test_full_batch_gradient_descent_reaches_the_least_squares_solution(tmp_path):
    """Heavy-ball gradient descent on the mean squared error with the optimal step and momentum
    for the Hessian's extreme eigenvalues converges to the least-squares solution."""
    x, y = _regression(rows=32)
    features = np.c_[x, np.ones(32)]
    low, high = np.sqrt(np.linalg.eigvalsh(2 * features.T @ features / 32)[[0, -1]])
    model = _linear_model(3)
    optimizer = keras.optimizers.SGD(4 / (low + high) ** 2, momentum=((high - low) / (high + low)) ** 2)
    trainer = _trainer(model, keras_loss(model, "mse"), ArrayDataset((x, y), 32), optimizer=optimizer)
    assert _fit(trainer, tmp_path, 80, checkpoint_every=100) == ("completed", 80)
    solution, *_ = np.linalg.lstsq(features, y[:, 0], rcond=None)
    kernel, bias = (w.numpy() for w in model.weights)
    np.testing.assert_allclose(np.r_[kernel[:, 0], bias], solution, rtol=0, atol=1e-10)
    residual = np.mean((features @ solution - y[:, 0]) ** 2)
    np.testing.assert_allclose(read_metrics(tmp_path)[-1]["loss"], residual, rtol=1e-9)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_minibatch_sgd_equals_a_numpy_replay(tmp_path, jit_compile):
    """Two epochs of SGD over 10 rows in batches of 4, 4 and 2, in the dataset's order: the
    weights and the logged epoch losses (row-weighted means of the batch losses) equal a
    numpy computation of the same updates."""
    x, y = _regression(rows=10)
    data = ArrayDataset((x, y), 4, seed=7)
    model = _linear_model(3)
    trainer = _trainer(model, keras_loss(model, "mse"), data, jit_compile=jit_compile)
    _fit(trainer, tmp_path, 2)
    w, losses, lr = np.zeros(4), [], float(np.float32(0.1))  # Keras keeps the rate in float32
    features = np.c_[x, np.ones(10)]
    for epoch in range(2):
        total = 0.0
        for rows in np.array_split(data.order(epoch), [4, 8]):
            residual = features[rows] @ w - y[rows, 0]
            total += len(rows) * np.mean(residual ** 2)
            w -= lr * 2 * features[rows].T @ residual / len(rows)
        losses.append(total / 10)
    kernel, bias = (v.numpy() for v in model.weights)
    np.testing.assert_allclose(np.r_[kernel[:, 0], bias], w, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose([r["loss"] for r in read_metrics(tmp_path)], losses, rtol=1e-13)


def test_generated_data_validation_every_k_epochs_timeout_and_an_overridden_rate(tmp_path):
    """The QRNN pattern: batches drawn from seeds, validation every 3 epochs and after the last
    (epochs 3, 6 and 7 of 7); a timeout checkpoints and returns "timeout" before the first
    batch; the next fit resumes, with the learning rate overridden by an ``on_train_begin``
    callback (it runs after the restore, and the new rate is checkpointed from then on)."""
    def generate(seed, rows):
        x = tf.random.stateless_normal([rows, 2], seed, dtype=tf.float64)
        return x, tf.reduce_sum(x, axis=1, keepdims=True)

    def trainer(learning_rate, callbacks=()):
        model = _linear_model(2)
        return _trainer(model, keras_loss(model, "mse"), GeneratedDataset(generate, 4, 2, seed=1),
                        optimizer=keras.optimizers.SGD(learning_rate), callbacks=callbacks,
                        validation_data=GeneratedDataset(generate, 8, 1, seed=2), validate_every=3)
    assert _fit(trainer(0.125), tmp_path, 7, timeout=0) == ("timeout", 0)
    assert os.listdir(tmp_path / "checkpoints") and read_metrics(tmp_path) == []
    resumed = trainer(0.125, [keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: setattr(resumed.optimizers["optimizer"], "learning_rate", 0.25))])
    assert _fit(resumed, tmp_path, 7) == ("completed", 7)
    rows = read_metrics(tmp_path)
    assert [r["epoch"] for r in rows if "val_loss" in r] == [3, 6, 7]
    assert {r["learning_rate"] for r in rows} == {0.25}
    assert rows[-1]["loss"] < 0.1 * rows[0]["loss"]


# --- early stopping, plateaus and the best checkpoint ---------------------------------------

CURVE = [5.0, 4.0, 3.0, 3.5, 2.96, 3.2, 3.3, 3.4, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("mode,min_delta,stop_epoch,best_epoch", [
    ("min", 0.0, 8, 5),   # 2.96 improves on 3: three epochs without improvement after epoch 5
    ("min", 0.1, 6, 3),   # 2.96 is not 0.1 better than 3: three epochs after epoch 3
    ("max", 0.0, 8, 5),   # the same curve negated
])
def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights(
        tmp_path, mode, min_delta, stop_epoch, best_epoch):
    x, y = _regression()
    model, optimizer = _linear_model(3), keras.optimizers.SGD(0.05)
    curve = CURVE if mode == "min" else [-c for c in CURVE]
    record = _Record()
    trainer = _trainer(model, _scripted(model, optimizer, curve, 3), ArrayDataset((x, y), 4),
                       optimizer=optimizer, validation_data=ArrayDataset((x, y), 12),
                       callbacks=[record, EarlyStopping("val_score", min_delta, patience=3, mode=mode,
                                                        restore_best_weights=True)])
    assert _fit(trainer, tmp_path, len(CURVE)) == ("stopped", stop_epoch)
    assert [r["epoch"] for r in read_metrics(tmp_path)] == list(range(1, stop_epoch + 1))
    for weight, best in zip(model.weights, record.epochs[best_epoch - 1], strict=True):
        np.testing.assert_array_equal(weight.numpy(), best)
    assert not np.array_equal(model.weights[0].numpy(), record.epochs[-1][0])


def test_reduce_lr_on_plateau_follows_keras_rule(tmp_path):
    """Patience 2, factor 0.5, cooldown 1, min_lr 0.03 on a scripted curve, worked by hand:
    reductions after epochs 4 (0.1 -> 0.05) and 8 (-> 0.03, the floor); none at 10 (at the
    floor). The logged rate is the one used during the epoch."""
    curve = [1.0, 0.9, 0.95, 0.92, 0.91, 0.5, 0.6, 0.7, 0.8, 0.9]
    x, y = _regression()
    model, optimizer = _linear_model(3), keras.optimizers.SGD(0.1)
    plateau = ReduceLROnPlateau([optimizer], "val_score", factor=0.5, patience=2, min_delta=0.0,
                                cooldown=1, min_lr=0.03)
    trainer = _trainer(model, _scripted(model, optimizer, curve, 1), ArrayDataset((x, y), 12),
                       optimizer=optimizer, validation_data=ArrayDataset((x, y), 12),
                       callbacks=[plateau], best_monitor=None)
    _fit(trainer, tmp_path, len(curve))
    rates = [r["learning_rate"] for r in read_metrics(tmp_path)]
    np.testing.assert_allclose(rates, [0.1] * 4 + [0.05] * 4 + [0.03] * 2, rtol=1e-7)
    assert float(plateau.state.best) == 0.5 and int(plateau.state.wait) == 2


def test_best_checkpoint_survives_rotation(tmp_path):
    """Best validation score at epoch 3 of 8, two periodic checkpoints kept: checkpoints/
    holds the last two, checkpoints/best/ the one of epoch 3, whose weights load back."""
    x, y = _regression()
    curve = [3.0, 2.0, 1.0, 1.5, 1.6, 1.7, 1.8, 1.9]
    model, optimizer = _linear_model(3), keras.optimizers.SGD(0.05)
    record = _Record()
    kwargs = dict(optimizer=optimizer, validation_data=ArrayDataset((x, y), 12),
                  callbacks=[record], best_monitor="val_score")
    trainer = _trainer(model, _scripted(model, optimizer, curve, 3), ArrayDataset((x, y), 4), **kwargs)
    _fit(trainer, tmp_path, len(curve), max_to_keep=2)
    names = sorted(os.listdir(tmp_path / "checkpoints"))
    assert names == ["best", "checkpoint", "ckpt-21.data-00000-of-00001", "ckpt-21.index",
                     "ckpt-24.data-00000-of-00001", "ckpt-24.index"], names
    assert sorted(os.listdir(tmp_path / BEST_DIR)) == [
        "checkpoint", "ckpt-3.data-00000-of-00001", "ckpt-3.index"]
    fresh_model, fresh_optimizer = _linear_model(3), keras.optimizers.SGD(0.05)
    fresh = _trainer(fresh_model, _scripted(fresh_model, fresh_optimizer, curve, 3),
                     ArrayDataset((x, y), 4), **{**kwargs, "optimizer": fresh_optimizer})
    assert fresh.restore_best(tmp_path) == 3
    for weight, best in zip(fresh_model.weights, record.epochs[2], strict=True):
        np.testing.assert_array_equal(weight.numpy(), best)
    assert fresh.position.epoch == 3 and float(fresh.state.best.best) == 1.0


# --- learning rates, clipping and parameter groups, read off the applied updates ------------

def _linear_loss_updates(tmp_path, optimizer, callbacks=lambda optimizer: []):
    """SGD on loss = c . w (gradient c, 3 batches per epoch): the rate of every step."""
    model = _linear_model(2, use_bias=False)
    c = np.array([[1.0], [-2.0]])
    record = _Record()
    trainer = _trainer(model, lambda batch, seed, training: {
        "loss": tf.reduce_sum(model.weights[0] * c) + 0 * tf.reduce_sum(batch)},
        ArrayDataset(np.zeros((9, 1)), 3), optimizer=optimizer,
        callbacks=[*callbacks(optimizer), record])
    _fit(trainer, tmp_path, 3)
    weights = np.array([np.zeros((2, 1))] + [b[0] for b in record.batches])
    steps = -np.diff(weights, axis=0) / c
    np.testing.assert_allclose(steps[:, 1], steps[:, 0], rtol=1e-12)  # every weight moved by lr c
    return steps[:, 0, 0]


def test_per_step_schedule_sets_every_step_rate(tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    rates = _linear_loss_updates(tmp_path, keras.optimizers.SGD(schedule))
    np.testing.assert_allclose(rates, 0.1 * 0.5 ** np.arange(9), rtol=1e-6)


@pytest.mark.parametrize("decay_steps,expected", [
    (1, [0.1, 0.05, 0.025]),   # ExponentialLR(gamma=0.5)
    (2, [0.1, 0.1, 0.05]),     # StepLR(step_size=2, gamma=0.5)
])
def test_per_epoch_schedule_holds_the_rate_through_each_epoch(tmp_path, decay_steps, expected):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps, 0.5, staircase=True)
    rates = _linear_loss_updates(tmp_path, keras.optimizers.SGD(1.0),
                                 callbacks=lambda opt: [EpochSchedule(opt, schedule)])
    np.testing.assert_allclose(rates, np.repeat(expected, 3), rtol=1e-6)


def test_clipping_bounds_the_global_norm_of_the_update_over_all_groups(tmp_path):
    """Loss 0.5 |w - t|^2 over a kernel and a bias in two groups with SGD(1): every update is
    -g scaled to global norm 0.5 while |g| > 0.5; the logged grad_norm is |g| before clipping."""
    model = _linear_model(2)
    target = [np.array([[3.0], [-4.0]]), np.array([12.0])]
    record = _Record()
    trainer = _trainer(model, lambda batch, seed, training: {"loss": 0.5 * tf.add_n(
        [tf.reduce_sum((w - t) ** 2) for w, t in zip(model.weights, target)]) + 0 * tf.reduce_sum(batch)},
        ArrayDataset(np.zeros((2, 1)), 1), clip_norm=0.5, callbacks=[record],
        parameter_groups={"kernel": (keras.optimizers.SGD(1.0), [model.weights[0]]),
                          "bias": (keras.optimizers.SGD(1.0), [model.weights[1]])})
    _fit(trainer, tmp_path, 2)
    before = np.zeros(3)
    for after in record.batches:
        after = np.concatenate([a.ravel() for a in after])
        gradient = before - np.concatenate([t.ravel() for t in target])
        np.testing.assert_allclose(after - before, -0.5 * gradient / np.linalg.norm(gradient),
                                   rtol=1e-12)
        before = after
    assert read_metrics(tmp_path)[0]["grad_norm"] == pytest.approx(13.0 - 0.25, rel=1e-12)


@pytest.mark.parametrize("p", [1.0, 3.0, math.inf])
def test_clipping_to_a_p_norm_scales_the_gradient_to_that_norm(tmp_path, p):
    """As above with |g|_p: one SGD(1) step from w = 0 moves w by -g min(1, 0.5 / |g|_p), the
    p-norm taken over the kernel and the bias together (torch's clip_grad_norm_)."""
    model = _linear_model(2)
    target = np.array([3.0, -4.0, 12.0])
    trainer = _trainer(model, lambda batch, seed, training: {"loss": 0.5 * tf.reduce_sum(
        (tf.concat([tf.reshape(w, [-1]) for w in model.weights], 0) - target) ** 2)
        + 0 * tf.reduce_sum(batch)}, ArrayDataset(np.zeros((1, 1)), 1),
        optimizer=keras.optimizers.SGD(1.0), clip_norm=0.5, clip_norm_type=p)
    _fit(trainer, tmp_path, 1)
    norm = np.linalg.norm(target, ord=p)
    moved = np.concatenate([w.numpy().ravel() for w in model.weights])
    np.testing.assert_allclose(moved, 0.5 * target / norm, rtol=1e-12)
    assert read_metrics(tmp_path)[0]["grad_norm"] == pytest.approx(norm, rel=1e-12)


@pytest.mark.parametrize("value", [0.5, True, "2"])
def test_clip_norm_type_below_one_is_refused(value):
    with pytest.raises(ConfigError, match="clip_norm_type must be a real number >= 1"):
        _trainer(_linear_model(1), None, ArrayDataset(np.zeros((1, 1)), 1), clip_norm_type=value)


def test_parallel_readers_and_prefetch_read_the_same_batches(tmp_path):
    """data_workers and prefetch read ahead in tf.data; the trained weights are bitwise those of
    reading each batch in turn (a shuffled dataset with a short last batch, 3 epochs)."""
    x, y = _regression(rows=11)
    weights = []
    for name, options in (("serial", {}), ("parallel", {"data_workers": 2, "prefetch": True})):
        keras.utils.set_random_seed(0)
        model = _linear_model(3)
        trainer = _trainer(model, keras_loss(model, "mse"), ArrayDataset((x, y), 4), **options)
        _fit(trainer, tmp_path / name, 3)
        weights.append([w.numpy() for w in model.weights])
    for serial, parallel in zip(*weights):
        np.testing.assert_array_equal(serial, parallel)


def test_parameter_groups_apply_their_own_optimizers(tmp_path):
    """One SGD step from zero weights, the kernel at rate 1/8 and the bias at 1/64 (exact in
    the float32 Keras keeps rates in): each moves by its own rate times its gradient."""
    x, y = _regression(rows=4)
    model = _linear_model(3)
    kernel, bias = model.weights
    trainer = _trainer(model, keras_loss(model, "mse"), ArrayDataset((x, y), 4),
                       parameter_groups={"kernel": (keras.optimizers.SGD(1 / 8), [kernel]),
                                         "bias": (keras.optimizers.SGD(1 / 64), [bias])})
    _fit(trainer, tmp_path, 1)
    residual = -y[:, 0]  # the weights started at zero
    np.testing.assert_allclose(kernel.numpy()[:, 0], -2 / 8 * x.T @ residual / 4, rtol=1e-14)
    np.testing.assert_allclose(bias.numpy(), [-2 / 64 * residual.mean()], rtol=1e-14)
    row = read_metrics(tmp_path)[0]
    assert (row["learning_rate/kernel"], row["learning_rate/bias"]) == (1 / 8, 1 / 64)


@pytest.mark.parametrize("kwargs,message", [
    (lambda m: {"parameter_groups": {"a": (keras.optimizers.SGD(), [m.weights[0]])}},
     "in no parameter group"),
    (lambda m: {"parameter_groups": {"a": (keras.optimizers.SGD(), m.weights),
                                     "b": (keras.optimizers.SGD(), [m.weights[1]])}},
     "is in parameter groups 'a' and 'b'"),
    (lambda m: {"optimizer": keras.optimizers.SGD(), "callbacks": [keras.callbacks.EarlyStopping()]},
     "keras.callbacks.EarlyStopping keeps its state in Python attributes"),
    (lambda m: {"optimizer": keras.optimizers.SGD(), "best_monitor": "val_loss"},
     "need validation_data"),
    (lambda m: {"optimizer": keras.optimizers.SGD(), "best_monitor": None,
                "callbacks": [EarlyStopping("loss", mode="lowest")]},
     "mode must be 'min' or 'max'"),
], ids=["unclaimed-variable", "variable-in-two-groups", "keras-early-stopping",
        "val-monitor-without-validation", "bad-mode"])
def test_invalid_setups_are_refused_with_a_message(kwargs, message):
    model = _linear_model(2)
    with pytest.raises(ValueError, match=message):
        EpochTrainer(model, keras_loss(model, "mse"), ArrayDataset((np.zeros((4, 2)), np.zeros((4, 1))), 2),
                     distributed=ONE_PROCESS, **{"optimizer": None, **kwargs(model)})


# --- NaN ------------------------------------------------------------------------------------

def test_nan_loss_skips_the_update_and_stops_with_a_message(tmp_path):
    """The 5th step's loss is NaN (epoch 2, batch 2): NonFiniteLossError naming it and the
    last checkpoint (epoch 1); the weights and the step count are those after step 4."""
    x, y = _regression()
    model, optimizer = _linear_model(3), keras.optimizers.SGD(0.05)
    mse = keras_loss(model, "mse")

    def loss_fn(batch, seed, training):
        loss = mse(batch, seed, training)["loss"]
        return {"loss": tf.where(optimizer.iterations == 4, tf.constant(np.nan, tf.float64), loss)}
    record = _Record()
    trainer = _trainer(model, loss_fn, ArrayDataset((x, y), 4), optimizer=optimizer,
                       callbacks=[record], best_monitor=None)
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 2: .* not finite .*ckpt-3"):
        _fit(trainer, tmp_path, 3)
    assert int(optimizer.iterations) == 4 and len(record.batches) == 4
    for weight, last in zip(model.weights, record.batches[-1], strict=True):
        np.testing.assert_array_equal(weight.numpy(), last)
    assert [r["epoch"] for r in read_metrics(tmp_path)] == [1]


# --- exact resume ---------------------------------------------------------------------------

class _Interrupt(keras.callbacks.Callback):
    """Send this process SIGTERM (caught by the trainer's InterruptFlag) after global step k."""

    def __init__(self, trainer_steps, at):
        super().__init__()
        self.steps, self.at = trainer_steps, at

    def on_train_batch_end(self, batch, logs=None):
        if int(self.steps()) in self.at:
            os.kill(os.getpid(), signal.SIGTERM)


def _checkpoint_tensors(prefix):
    """The values in a checkpoint, without the bookkeeping that differs between processes: the
    object graph (it names variables as Keras numbered them) and the save counter."""
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(prefix)
            if name not in ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter/.ATTRIBUTES/VARIABLE_VALUE")}


def _assert_same_run(run_dir, reference_dir, state, reference_state):
    """Bitwise: final variables, metrics.jsonl, and the latest and best checkpoints."""
    assert state.keys() == reference_state.keys()
    for key in state:
        np.testing.assert_array_equal(state[key], reference_state[key], err_msg=key)
    with open(os.path.join(run_dir, "metrics.jsonl")) as a, open(os.path.join(reference_dir, "metrics.jsonl")) as b:
        assert a.read() == b.read()
    for sub in ("checkpoints", BEST_DIR):
        latest = [tf.train.latest_checkpoint(os.path.join(d, sub)) for d in (run_dir, reference_dir)]
        assert os.path.basename(latest[0]) == os.path.basename(latest[1])
        got, want = (_checkpoint_tensors(p) for p in latest)
        assert got.keys() == want.keys()
        for name in got:
            np.testing.assert_array_equal(got[name], want[name], err_msg=f"{sub}: {name}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The scenario uninterrupted: it stops early after epoch STOP_EPOCH."""
    run_dir = tmp_path_factory.mktemp("reference")
    trainer = scenario.build()
    assert trainer.fit(scenario.EPOCHS, str(run_dir), verbose=0) == ("stopped", scenario.STOP_EPOCH)
    return run_dir, scenario.final_state(trainer)


@pytest.mark.parametrize("interrupts", [
    (3,),          # mid-epoch 1
    (6,),          # after the last batch of epoch 1: saved at the start of epoch 2
    (17, 18),      # mid-epoch 3, twice in a row, with the learning rates already changed
    (40,),         # epoch 7: early stopping has waited two epochs, the best weights are kept
], ids=["mid-epoch", "epoch-boundary", "twice", "while-early-stopping-waits"])
def test_interrupted_and_resumed_run_equals_the_uninterrupted_one(tmp_path, reference, interrupts):
    outcomes = []
    for attempt in range(len(interrupts) + 1):
        interrupt = _Interrupt(lambda: trainer.position.step, interrupts)
        # Resumed attempts start from other weights: the restore must overwrite them.
        trainer = scenario.build(init_seed=attempt and 100 + attempt, extra_callbacks=[interrupt])
        outcomes.append(trainer.fit(scenario.EPOCHS, str(tmp_path), verbose=0)[0])
    assert outcomes == ["interrupted"] * len(interrupts) + ["stopped"]
    _assert_same_run(tmp_path, reference[0], scenario.final_state(trainer), reference[1])


def test_a_run_stopped_early_stays_stopped(reference, tmp_path):
    """fit again on a run that early stopping ended: nothing runs, the state is restored."""
    import shutil
    shutil.copytree(reference[0], tmp_path / "run")
    trainer = scenario.build(init_seed=7)
    assert trainer.fit(scenario.EPOCHS, str(tmp_path / "run"), verbose=0) == ("stopped", scenario.STOP_EPOCH)
    _assert_same_run(tmp_path / "run", reference[0], scenario.final_state(trainer), reference[1])


def test_sigterm_to_a_training_process_then_resume_equals_the_uninterrupted_run(tmp_path, reference):
    """A real SIGTERM to a subprocess running the scenario (slowed down to 0.3 s per epoch)
    once it has logged two epochs; a second process resumes; the result is bitwise the
    in-process uninterrupted run."""
    run_dir = tmp_path / "run"
    command = [sys.executable, os.path.join(REPO, "tests", "runtime", "epoch_scenario.py"),
               str(run_dir), str(tmp_path / "state.npz")]  # + initial-weights seed, slowdown
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(command + ["0", "0.3"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    wait_for_metric_rows(process, run_dir, rows=2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert "outcome interrupted" in output, output[-3000:]
    epochs_done = len(read_metrics(run_dir))
    assert 2 <= epochs_done < scenario.STOP_EPOCH
    assert "\x1b" not in output and "\r" not in output  # plain lines in a pipe
    assert f"epoch {epochs_done}/{scenario.EPOCHS} " in output
    resumed = subprocess.run(command + ["1"], env=env, capture_output=True, text=True, timeout=300)
    assert f"outcome stopped after epoch {scenario.STOP_EPOCH}" in resumed.stdout, resumed.stdout + resumed.stderr
    _assert_same_run(run_dir, reference[0], dict(np.load(tmp_path / "state.npz")), reference[1])


# --- logging --------------------------------------------------------------------------------

def test_metrics_rows_keyed_by_epoch_are_cut_back_on_resume(tmp_path):
    logger = MetricsLogger(tmp_path, 4, key="epoch", verbose=0)
    for epoch in range(1, 5):
        logger.log(epoch, {"loss": np.float64(1.0 / epoch), "val_loss": tf.constant(2.0)})
    logger.close()
    MetricsLogger(tmp_path, 4, start_step=2, key="epoch", verbose=0).close()
    assert read_metrics(tmp_path) == [{"epoch": 1, "loss": 1.0, "val_loss": 2.0},
                                      {"epoch": 2, "loss": 0.5, "val_loss": 2.0}]


def test_step_rows_still_work(tmp_path):
    logger = MetricsLogger(tmp_path, 3, verbose=0)
    logger.log(1, {"energy": -1.5})
    logger.close()
    assert read_metrics(tmp_path) == [{"step": 1, "energy": -1.5}]


def test_progress_to_a_pipe_is_a_plain_line_every_interval(tmp_path, capsys):
    logger = MetricsLogger(tmp_path, 10, key="epoch", progress_keys=("loss",), progress_interval=3600)
    for epoch in range(1, 11):
        logger.progress(epoch - 0.5, {"loss": 1.0 / epoch})
        logger.log(epoch, {"loss": 1.0 / epoch})
    logger.close()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines  # the first update, then the end
    assert lines[0].startswith("epoch 0.50/10 (5%) ") and lines[0].endswith(" loss=1")
    assert lines[1].startswith("epoch 10/10 (100%) ") and " ETA 0:00:00 loss=0.1" in lines[1]
    assert "epochs/s" in lines[1] or "s/epoch" in lines[1]
    assert not any(c in "".join(lines) for c in "\x1b\r\b")


def test_progress_in_verbose_2_is_one_line_per_row(capsys):
    progress = Progress(3, unit="step", keys=("energy",), verbose=2)
    for step in range(1, 4):
        progress.update(step - 0.5, {"energy": -1.0})
        progress.update(step, {"energy": -1.0}, final=True)
    assert [line.split(" ")[1] for line in capsys.readouterr().out.splitlines()] == ["1/3", "2/3", "3/3"]


def test_progress_on_a_terminal_is_keras_progress_bar(monkeypatch):
    main, secondary = os.openpty()
    with os.fdopen(secondary, "w") as terminal:
        monkeypatch.setattr(sys, "stdout", terminal)
        progress = Progress(4, unit="epoch", keys=("loss",))
        progress.update(4, {"loss": 0.5}, final=True)  # the bar draws at most every 0.05 s, and at the end
        terminal.flush()
        assert isinstance(progress._progbar, keras.utils.Progbar)
    output = os.read(main, 4096).decode()
    os.close(main)
    assert "4/4" in output and "loss: 0.5" in output and "\x1b" in output


# --- Horovod --------------------------------------------------------------------------------

def test_two_horovod_ranks_equal_one_process_on_the_concatenated_data(tmp_path):
    """horovodrun -np 2: each rank reads its part of every global batch (4 rows each; the last
    batch of 3 rows 1 and 2, so gradients and metrics must be weighted by rows) and of the
    validation set (13 rows: 6 and 7); the ranks end bitwise equal, equal to one process with
    batches of 8 within float64 rounding, with the same metrics.jsonl rows, and only rank 0
    writes. A resumed two-rank run equals a straight one."""
    pytest.importorskip("horovod.tensorflow", reason="Horovod is not installed: run `bash launch/install_horovod.sh`")
    from tests.runtime import epochs_horovod_worker as worker
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])),
           "TF_CPP_MIN_LOG_LEVEL": "3", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "horovod.runner.launch", "-np", "2", "-H", "localhost:2",
                             "--gloo", sys.executable, worker.__file__, str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    ranks = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(2)]
    for key in ranks[0]:
        if key != "pid":
            np.testing.assert_array_equal(ranks[0][key], ranks[1][key], err_msg=key)
    single = worker.train(ONE_PROCESS, str(tmp_path / "single"), batch_size=2 * worker.BATCH)
    for key, value in single.items():
        np.testing.assert_allclose(ranks[0][key], value, rtol=1e-12, atol=1e-14, err_msg=key)
        np.testing.assert_array_equal(ranks[0][f"resumed/{key}"], ranks[0][key], err_msg=key)
    rows, single_rows = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "single")
    assert [r["epoch"] for r in rows] == list(range(1, worker.EPOCHS + 1))
    for row, expected in zip(rows, single_rows, strict=True):
        assert row.keys() == expected.keys()
        for key in row:
            assert row[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-14), key
    for run in ("straight", "resumed"):
        written = [os.path.join(root, name) for root, _, names in os.walk(tmp_path / run) for name in names]
        assert not any(str(ranks[1]["pid"]) in name for name in written), written
        assert len([name for name in written if "/events/" in name]) == (1 if run == "straight" else 2)
