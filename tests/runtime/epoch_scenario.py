"""The epoch-runtime scenario the resume tests run in-process and in subprocesses.

A small regression network with dropout, random noise in the loss, two parameter groups (Adam
under Keras's own per-epoch ``LearningRateScheduler``, SGD with momentum under
``ReduceLROnPlateau``), gradient clipping, a last batch smaller than the others, and early
stopping on a scripted validation score, so that every piece of state an exact resume needs is
exercised: model weights, dropout seed states, optimizer slots and iteration counts, learning
rates, the trainer's generator, the data position, the epoch's running sums, and the callbacks'
state. Uninterrupted it stops early after epoch ``STOP_EPOCH``.

    python tests/runtime/epoch_scenario.py RUN_DIR OUT.npz INIT_SEED [SECONDS_PER_EPOCH]

runs (or resumes) the scenario in RUN_DIR with one plain progress line per epoch and saves the
final variables to OUT.npz; INIT_SEED sets the initial weights (0 as ``build``'s default, for a
run equal to the in-process one; a resumed run restores its checkpoint's whatever they are);
SECONDS_PER_EPOCH slows each epoch down (a sleep, no arithmetic) so that a test can signal the
process mid-run.
"""
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tfqsr.runtime.callbacks import EarlyStopping, ReduceLROnPlateau
from tfqsr.runtime.datasets import ArrayDataset
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.epochs import EpochTrainer

ROWS, BATCH, EPOCHS = 45, 8, 12
BATCHES = 6  # ceil(45 / 8): five batches of 8 rows and one of 5
# val_score by epoch: best at epoch 5 (2.96 beats 3 by more than min_delta 0.01), then three
# epochs without improvement: early stopping (patience 3) after epoch 8.
SCORES = [5.0, 4.0, 3.0, 3.5, 2.96, 3.2, 3.3, 3.4, 1.0, 1.0, 1.0, 1.0]
STOP_EPOCH = 8


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, 4)).astype(np.float32)
    y = np.tanh(x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32))[:, None] + 0.1
    return x, y.astype(np.float32)


def build(init_seed=0, extra_callbacks=()):
    """A fresh model and trainer; ``init_seed`` sets the initial weights (a resumed run
    restores the checkpoint's, whatever they were)."""
    keras.utils.set_random_seed(init_seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dropout(0.25, seed=3), keras.layers.Dense(1)])
    hidden, head = model.layers[0], model.layers[2]
    head_optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
    model.compile(optimizer=head_optimizer)  # Keras's LearningRateScheduler adjusts model.optimizer
    hidden_optimizer = keras.optimizers.Adam(0.01)
    scores = tf.constant(SCORES, tf.float64)

    def loss_fn(batch, seed, training):
        x, y = batch
        prediction = model(x, training=training)
        noise = tf.random.stateless_normal(tf.shape(prediction), seed, dtype=prediction.dtype)
        loss = tf.reduce_mean((prediction - y) ** 2) + 0.01 * tf.reduce_mean(noise * prediction)
        if training:
            return {"loss": loss}
        # The epoch just trained, from the optimizer's step count (restored on resume).
        epoch = hidden_optimizer.iterations // BATCHES - 1
        return {"loss": loss, "score": tf.gather(scores, epoch)}

    x, y = data()
    callbacks = [
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.9),
        ReduceLROnPlateau([hidden_optimizer], monitor="val_loss", factor=0.5, patience=1),
        EarlyStopping("val_score", min_delta=0.01, patience=3, restore_best_weights=True),
        *extra_callbacks]
    return EpochTrainer(
        model, loss_fn, ArrayDataset((x, y), BATCH, seed=5),
        parameter_groups={"hidden": (hidden_optimizer, hidden.trainable_variables),
                          "head": (head_optimizer, head.trainable_variables)},
        validation_data=ArrayDataset((x[:20], y[:20]), 16, shuffle=False), clip_norm=1.0,
        callbacks=callbacks, seed=11, best_monitor="val_loss",
        distributed=Distributed(use_horovod=False))


def final_state(trainer):
    """Every variable the run ends with: model (with dropout seeds), optimizers, generator."""
    variables = trainer.model.variables + [v for optimizer in trainer.optimizers.values()
                                           for v in optimizer.variables]
    return {f"{i}": np.asarray(v.numpy()) for i, v in enumerate(variables)} | {
        "generator": trainer.generator.state.numpy()}


class SlowEpochs(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(self.seconds)


def main(run_dir, out, init_seed, seconds_per_epoch=0.0):
    trainer = build(int(init_seed), extra_callbacks=[SlowEpochs(float(seconds_per_epoch))])
    outcome, epoch = trainer.fit(EPOCHS, run_dir, verbose=2)
    np.savez(out, **final_state(trainer))
    print(f"outcome {outcome} after epoch {epoch}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
