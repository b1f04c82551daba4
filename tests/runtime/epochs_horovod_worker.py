"""One rank of the epoch runtime's Horovod test; run by tests/runtime/test_epochs.py as

    horovodrun -np 2 -H localhost:2 --gloo python tests/runtime/epochs_horovod_worker.py OUT

Every rank trains the same linear regression in shared run directories under OUT (each rank
reads its shard of every batch), then writes OUT/rank<r>.npz: the final variables of a
straight run in OUT/straight (keys as ``train`` returns them), those of a run stopped after 2
epochs and resumed by a fresh trainer in OUT/resumed ("resumed/<key>"), and its pid.
"""
import os
import sys

import keras
import numpy as np

from tfqsr.runtime.callbacks import ReduceLROnPlateau
from tfqsr.runtime.datasets import ArrayDataset
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.epochs import EpochTrainer, keras_loss

ROWS, VALIDATION_ROWS, BATCH, EPOCHS = 43, 13, 4, 5


def train(distributed, run_dir, batch_size=BATCH, epochs=EPOCHS, init_seed=0):
    """Train (or resume) in ``run_dir`` with ``batch_size`` rows per rank; the final model and
    optimizer variables by name."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS + VALIDATION_ROWS, 3))
    y = (x @ [1.0, -2.0, 0.5] + 0.3 + 0.1 * rng.normal(size=len(x)))[:, None]
    keras.utils.set_random_seed(init_seed)  # unequal ranks until the broadcast
    model = keras.Sequential([keras.Input((3,), dtype="float64"), keras.layers.Dense(1, dtype="float64")])
    optimizer = keras.optimizers.SGD(0.05, momentum=0.5)
    trainer = EpochTrainer(
        model, keras_loss(model, "mse", {"mae": keras.losses.mean_absolute_error}),
        ArrayDataset((x[:ROWS], y[:ROWS]), batch_size, seed=3), optimizer=optimizer,
        validation_data=ArrayDataset((x[ROWS:], y[ROWS:]), batch_size, shuffle=False),
        callbacks=[ReduceLROnPlateau([optimizer], patience=1, factor=0.5, min_delta=0.0)],
        distributed=distributed)
    trainer.fit(epochs, run_dir, verbose=0)
    variables = model.weights + optimizer.variables
    return {f"{i}": np.asarray(v.numpy()) for i, v in enumerate(variables)}


def main(out):
    distributed = Distributed(use_horovod=True)
    assert distributed.size == 2, distributed.size
    rank = distributed.rank
    dump = train(distributed, os.path.join(out, "straight"), init_seed=rank)
    train(distributed, os.path.join(out, "resumed"), epochs=2, init_seed=rank)
    resumed = train(distributed, os.path.join(out, "resumed"), init_seed=10 + rank)
    dump.update({f"resumed/{k}": v for k, v in resumed.items()})
    np.savez(os.path.join(out, f"rank{rank}.npz"), pid=os.getpid(), **dump)


if __name__ == "__main__":
    main(sys.argv[1])
