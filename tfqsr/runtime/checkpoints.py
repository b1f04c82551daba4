"""Atomic checkpoints of everything a run needs to continue bit-for-bit.

``tf.train.CheckpointManager`` writes each checkpoint to temporary files, renames them into place
and only then rewrites the ``checkpoint`` index (itself an atomic rename), so a run killed at
any moment leaves the previous checkpoint intact. The caller passes every piece of state:
model, optimizer (its slots and iteration count), the random generator and the step counter.
A second ``Checkpointer`` in its own directory (``runtime.epochs`` keeps the best epoch in
``checkpoints/best/`` with ``max_to_keep=1``) holds checkpoints the first one's rotation never
deletes.
"""
import numpy as np
import tensorflow as tf


class Checkpointer:
    """Save and restore ``trackables`` (keyword arguments) under ``directory``.

    A ``step`` int64 variable is added and saved with them; ``restore_latest`` returns its value.
    """

    def __init__(self, directory, max_to_keep=3, **trackables):
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.checkpoint = tf.train.Checkpoint(step=self.step, **trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=max_to_keep)

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def restore(self, path):
        """Restore the checkpoint ``path`` (a prefix such as ``.../ckpt-12``); returns its step."""
        self.checkpoint.restore(path).assert_existing_objects_matched()
        return int(self.step.numpy())

    def restore_latest(self):
        """Restore the newest checkpoint, if any; returns the step it was taken at (0 if none)."""
        if self.manager.latest_checkpoint is None:
            return 0
        return self.restore(self.manager.latest_checkpoint)

    def restore_latest_on_every_rank(self, distributed, path=None):
        """``restore_latest`` on every rank (a ``Distributed``), or ``restore(path)`` when an
        explicit checkpoint ``path`` is given (e.g. a best checkpoint to continue from);
        RuntimeError unless all ranks restored the same step (each must read the same
        directory)."""
        step = self.restore_latest() if path is None else self.restore(path)
        steps = np.asarray(distributed.allgather(np.array([step], np.int64)))
        if (steps != step).any():
            raise RuntimeError(
                f"the ranks restored different steps from {self.manager.directory} "
                f"({steps.tolist()} by rank): every rank must read the run directory, e.g. on a "
                "file system shared by all nodes")
        return step

    def save(self, step):
        """Checkpoint the state after ``step`` completed steps."""
        self.step.assign(step)
        return self.manager.save(checkpoint_number=step)
