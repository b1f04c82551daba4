"""One rank of the Horovod tests; run by tests/runtime/test_horovod.py as

    horovodrun -np 2 -H localhost:2 --gloo python tests/runtime/horovod_worker.py OUT

Every rank trains a small VMC problem through the Python API in shared run directories under
OUT, then writes what it ended with to OUT/rank<r>.npz (outside the run directories):

  straight/*    model + optimizer variables after 4 uninterrupted steps in OUT/straight
  resumed/*     the same after 2 steps, then a fresh trainer (another initialization on every
                rank) resuming to step 4 in OUT/resumed
  generator     the random generator's state after the resumed run
  weights/*     the trainable variables the gradients are taken at (those of ``straight``)
  x, grad/*     this rank's half of a fixed batch of 64 configurations and the rank-averaged
                gradient (VMCTrainer.gradients, energy from energy_statistics over ranks)
  grad_fp16/*   the same averaged with fp16 compression
  energy        the global energy of one more step; samples: this rank's samples of that step
  pid           this process's id (to attribute files in the run directories)
"""
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from tfqsr import operators
from tfqsr.runtime.distributed import Distributed
from tfqsr.vmc import VMCTrainer, energy_statistics
from tfqsr.wavefunctions import TransformerWavefunction

N_SITES, BATCH, GLOBAL_X = 6, 32, 64


def build_trainer(distributed, init_seed):
    keras.utils.set_random_seed(init_seed)
    model = TransformerWavefunction(N_SITES, num_layers=1, num_heads=2, d_model=8,
                                    clip_distance=3, phase=True)
    return VMCTrainer(model, operators.TransverseFieldIsing(N_SITES, h=1.0), batch_size=BATCH,
                      seed=7, optimizer=keras.optimizers.Adam(1e-2), distributed=distributed)


def state(trainer):
    return [v.numpy() for v in trainer.model.variables + trainer.optimizer.variables]


def fixed_batch():
    """64 configurations every process (and the single-process reference) draws alike."""
    return np.random.default_rng(0).integers(0, 2, size=(GLOBAL_X, N_SITES)).astype(np.int32)


def main(out):
    distributed = Distributed(use_horovod=True)
    rank = distributed.rank
    assert distributed.size == 2, distributed.size
    dump = {"pid": os.getpid()}

    straight = build_trainer(distributed, init_seed=rank)  # unequal until the broadcast
    assert straight.fit(4, os.path.join(out, "straight"), verbose=0) == ("completed", 4)
    dump.update({f"straight/{i}": v for i, v in enumerate(state(straight))})

    first = build_trainer(distributed, init_seed=rank)
    assert first.fit(2, os.path.join(out, "resumed"), verbose=0) == ("completed", 2)
    resumed = build_trainer(distributed, init_seed=100 + rank)
    assert resumed.fit(4, os.path.join(out, "resumed"), verbose=0) == ("completed", 4)
    dump.update({f"resumed/{i}": v for i, v in enumerate(state(resumed))})
    dump["generator"] = resumed.generator.state.numpy()

    x = fixed_batch()[rank * BATCH:(rank + 1) * BATCH]
    e_loc = straight.local_energies(x)
    energy = energy_statistics(e_loc, distributed)[0]
    grads = straight.gradients(x, e_loc, energy)
    dump.update({f"grad/{i}": tf.convert_to_tensor(g).numpy() for i, g in enumerate(grads)})
    dump.update({f"weights/{i}": v.numpy() for i, v in enumerate(straight.model.trainable_variables)})
    dump["x"] = x
    straight.distributed = Distributed(use_horovod=True, compression="fp16")
    grads = straight.gradients(x, e_loc, energy)
    dump.update({f"grad_fp16/{i}": tf.convert_to_tensor(g).numpy() for i, g in enumerate(grads)})
    straight.distributed = distributed

    dump["samples"] = straight.model.sample(BATCH, straight.sample_seed()).numpy()
    dump["energy"] = np.asarray(straight.step()["energy"])
    np.savez(os.path.join(out, f"rank{rank}.npz"), **dump)


if __name__ == "__main__":
    main(sys.argv[1])
