"""Data-parallel training across processes with Horovod, and a one-process fallback.

The adapter wraps Horovod's core TensorFlow ops only (``init``, ``rank``, ``size``,
``local_rank``, ``grouped_allreduce``, ``broadcast``): Horovod's ``DistributedGradientTape`` and
``horovod.tensorflow.keras`` do not work with Keras 3 variables, while allreduce of gradient
tensors and broadcast of ``variable.value`` do. Every rank holds the full model, samples its own
batch with its own random stream, and averages gradients and metrics; with equal per-rank
batches the averaged gradient equals the gradient of the concatenated global batch.

Without Horovod (or outside ``horovodrun``) the same interface runs in one process with the
collective operations reduced to identities.
"""
import tensorflow as tf


def _import_horovod():
    try:
        import horovod.tensorflow as hvd
    except ImportError:
        return None
    return hvd


class Distributed:
    """Rank/size and collectives for a training loop.

    Args:
      use_horovod: "auto" (Horovod when importable), True (required) or False (one process).
      compression: "none" or "fp16" (gradients cast to float16 for the allreduce).
      pin_gpu: make only the GPU of this process's local rank visible.
    """

    def __init__(self, use_horovod="auto", compression="none", pin_gpu=True):
        if compression not in ("none", "fp16"):
            raise ValueError(f"compression must be 'none' or 'fp16', got {compression!r}")
        hvd = _import_horovod() if use_horovod else None
        if use_horovod is True and hvd is None:
            raise RuntimeError("Horovod is required but not importable: run launch/install_horovod.sh")
        self._hvd = hvd
        if hvd is not None:
            hvd.init()
        self.compression = compression
        if pin_gpu and self.size > 1:
            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                tf.config.experimental.set_memory_growth(gpus[self.local_rank], True)
                tf.config.set_visible_devices(gpus[self.local_rank], "GPU")

    @property
    def rank(self):
        return self._hvd.rank() if self._hvd else 0

    @property
    def size(self):
        return self._hvd.size() if self._hvd else 1

    @property
    def local_rank(self):
        return self._hvd.local_rank() if self._hvd else 0

    @property
    def is_chief(self):
        """Only the chief (rank 0) writes checkpoints, logs, exports and plots."""
        return self.rank == 0

    def allreduce_mean(self, tensors):
        """Average a list of tensors over ranks (one grouped allreduce); identity in one process."""
        if self.size == 1:
            return list(tensors)
        if self.compression == "fp16":
            dtypes = [t.dtype for t in tensors]
            cast = [tf.cast(t, tf.float16) if t.dtype.is_floating else t for t in tensors]
            reduced = self._hvd.grouped_allreduce(cast, op=self._hvd.Average)
            return [tf.cast(r, d) for r, d in zip(reduced, dtypes)]
        return self._hvd.grouped_allreduce(list(tensors), op=self._hvd.Average)

    def allgather(self, tensor):
        """Concatenate ``tensor`` over ranks along axis 0; identity in one process."""
        return tensor if self.size == 1 else self._hvd.allgather(tensor)

    def broadcast_variables(self, variables, root_rank=0):
        """Assign every rank the values of ``root_rank`` (Keras 3 and tf.Variables)."""
        if self.size == 1:
            return
        for variable in variables:
            variable.assign(self._hvd.broadcast(tf.convert_to_tensor(variable.value), root_rank))

    def fold_rank(self, seed):
        """This rank's stateless seed from a seed shared by all ranks: ranks draw different samples
        while the generator state, identical on every rank, is what a checkpoint stores."""
        return tf.random.experimental.stateless_fold_in(seed, self.rank)
