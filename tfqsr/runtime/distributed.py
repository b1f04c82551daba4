"""Data-parallel training across processes with Horovod, and a one-process fallback.

    horovodrun -np 2 -H localhost:2 --gloo python -m tfqsr.train_decoder ...

The adapter wraps Horovod's core TensorFlow ops only (``init``, ``rank``, ``size``,
``local_rank``, ``grouped_allreduce``, ``allgather``, ``broadcast``): Horovod's
``DistributedGradientTape`` and ``horovod.tensorflow.keras`` do not work with Keras 3 variables,
while allreduce of gradient tensors and broadcast of ``variable.value`` do. Every rank holds the
full model, samples its own batch with its own random stream, and averages gradients and
metrics; with equal per-rank batches the averaged gradient equals the gradient of the
concatenated global batch, and every rank applies the same update, so the parameters stay
bitwise identical across ranks.

A training loop uses it in four places (``runtime.training`` and ``runtime.loop`` do the last
three for every system):

- gradients: ``average_gradients`` (one grouped allreduce; optional fp16 compression);
- metrics and statistics: ``allreduce_mean`` / ``allgather`` (exact, never compressed);
- start: every rank restores the checkpoint itself, then ``broadcast_variables`` copies rank 0's
  model and optimizer variables to all ranks (this covers a fresh start from per-rank random
  initializations too);
- files: only ``is_chief`` (rank 0) writes checkpoints, logs, exports and plots.

Without Horovod, outside ``horovodrun``, or with ``use_horovod=False``, the same interface runs in
one process: rank 0 of size 1, collectives reduced to identities.
"""
import tensorflow as tf


def _import_horovod():
    try:
        import horovod.tensorflow as hvd
    except ImportError:
        return None
    return hvd


class Distributed:
    """Rank, size and collectives for a data-parallel training loop.

    Args:
      use_horovod: "auto" (Horovod when importable; one process under plain ``python``),
        True (Horovod required: RuntimeError when it is not importable) or False (one process).
      compression: "none" or "fp16": gradients are cast to float16 for ``average_gradients``
        (half the bytes on the wire, about 3 significant digits); metrics are never compressed.
      pin_gpu: with several ranks, each process sees only GPU number ``local_rank`` (modulo the
        number of GPUs, so more ranks than GPUs share them round-robin). Must run before
        TensorFlow initializes its GPUs, i.e. before the first model or tensor is created.
    """

    def __init__(self, use_horovod="auto", compression="none", pin_gpu=True):
        if use_horovod not in ("auto", True, False):
            raise ValueError(f"use_horovod must be 'auto', True or False, got {use_horovod!r}")
        if compression not in ("none", "fp16"):
            raise ValueError(f"compression must be 'none' or 'fp16', got {compression!r}")
        hvd = _import_horovod() if use_horovod else None
        if use_horovod is True and hvd is None:
            raise RuntimeError("Horovod is required but not importable: run launch/install_horovod.sh")
        self._hvd = hvd
        if hvd is not None:
            hvd.init()  # idempotent: several Distributed objects share one Horovod context
        self.compression = compression
        if pin_gpu and self.size > 1:
            self._pin_gpu()

    def _pin_gpu(self):
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return
        gpu = gpus[self.local_rank % len(gpus)]
        if tf.config.get_visible_devices("GPU") == [gpu]:
            return  # pinned by an earlier Distributed
        tf.config.experimental.set_memory_growth(gpu, True)
        tf.config.set_visible_devices(gpu, "GPU")

    @property
    def rank(self):
        return self._hvd.rank() if self._hvd else 0

    @property
    def size(self):
        return self._hvd.size() if self._hvd else 1

    @property
    def local_rank(self):
        """Rank among the processes on this node (selects the GPU)."""
        return self._hvd.local_rank() if self._hvd else 0

    @property
    def is_chief(self):
        """Only the chief (rank 0) writes checkpoints, logs, exports and plots."""
        return self.rank == 0

    def average_gradients(self, gradients):
        """Average gradients over ranks with one grouped allreduce (fp16 on the wire if
        ``compression="fp16"``); identity in one process.

        ``tf.IndexedSlices`` (embedding gradients) are made dense first: Horovod's sparse path
        of ``grouped_allreduce`` fails. Works eagerly and inside ``tf.function``.
        """
        if self.size == 1:
            return list(gradients)
        gradients = [tf.convert_to_tensor(g) for g in gradients]
        if self.compression == "none":
            return self._hvd.grouped_allreduce(gradients, op=self._hvd.Average)
        wire = [tf.cast(g, tf.float16) if g.dtype.is_floating else g for g in gradients]
        reduced = self._hvd.grouped_allreduce(wire, op=self._hvd.Average)
        return [tf.cast(r, g.dtype) for r, g in zip(reduced, gradients)]

    def allreduce_mean(self, tensors):
        """Average a list of tensors (metrics, statistics) over ranks in one grouped allreduce,
        at full precision; identity in one process."""
        if self.size == 1:
            return list(tensors)
        return self._hvd.grouped_allreduce([tf.convert_to_tensor(t) for t in tensors],
                                           op=self._hvd.Average)

    def allgather(self, tensor):
        """Concatenate ``tensor`` over ranks along axis 0 (rank order); identity in one process."""
        return tensor if self.size == 1 else self._hvd.allgather(tensor)

    def barrier(self):
        """Return only when every rank has called it (e.g. rank 0 finished a checkpoint
        before another rank exits); no-op in one process."""
        if self.size > 1:
            self._hvd.allreduce(tf.zeros([]), op=self._hvd.Sum)

    def broadcast_variables(self, variables, root_rank=0):
        """Assign every rank the values of ``root_rank`` (Keras 3 and tf.Variables).

        ``runtime.training`` calls it once, after the restore and before the first step, with
        the model's and the optimizer's variables. Horovod's usual advice is to broadcast
        after the first step, because Keras optimizers used to create their slots lazily;
        tfqsr's trainers build their optimizers eagerly, so the slots exist before the first
        step and are covered. (Variables an optimizer would create later start equal on every
        rank anyway: they are initialized deterministically and updated with the same averaged
        gradients.)
        """
        if self.size == 1:
            return
        for variable in variables:
            variable.assign(self._hvd.broadcast(tf.convert_to_tensor(variable.value), root_rank))

    def fold_rank(self, seed):
        """This rank's stateless seed from a seed shared by all ranks: ranks draw different
        samples while the generator state, identical on every rank, is what a checkpoint
        stores (so resuming with another number of ranks still works, with other samples)."""
        return tf.random.experimental.stateless_fold_in(seed, self.rank)
