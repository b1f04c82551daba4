"""Datasets addressed by position, for the epoch runtime (``runtime.epochs``).

The batch a shard reads is a pure function of (seed, epoch, batch index, shard, number of
shards): nothing is consumed, so the data position of a run is the pair (epoch, batch index),
a checkpoint stores it as two integers, and a run resumed mid-epoch reads exactly the batches
an uninterrupted run would have read.

Under Horovod every rank is one shard and reads only its own rows. ``ArrayDataset`` splits each
*global* batch of ``batch_size * num_shards`` rows into contiguous per-shard pieces, like
PyTorch's ``DistributedSampler`` but per batch: global batch b on N shards holds the same rows,
in the same order, as batch b of one process with an N times larger ``batch_size``, so
N processes (with gradients averaged) train exactly as one process on the whole data.
``GeneratedDataset`` draws each shard's batch from its own stateless seed.
"""
import abc
import itertools
import math

import numpy as np
import tensorflow as tf

from tfqsr import validation


def fold_seed(seed, *values):
    """A stateless seed (int64 ``[2]`` tensor) from an integer ``seed`` and integers ``values``
    (e.g. epoch, batch index, shard), through ``tf.random.experimental.stateless_fold_in``."""
    folded = tf.constant([0, seed], tf.int64)
    for value in values:
        folded = tf.random.experimental.stateless_fold_in(folded, value)
    return folded


def batch_rows(batch):
    """Rows of ``batch`` (a tensor or a nested structure of tensors): its leading dimension."""
    return int(tf.nest.flatten(batch)[0].shape[0])


class Dataset(abc.ABC):
    """Batches addressed by (epoch, index, shard, num_shards); see the module docstring."""

    @abc.abstractmethod
    def batches_per_epoch(self, num_shards=1):
        """Batches in an epoch (the same on every shard)."""

    @abc.abstractmethod
    def batch(self, epoch, index, shard=0, num_shards=1):
        """The batch ``index`` (0-based) of 0-based ``epoch`` for ``shard``: a tensor or a nested
        structure of tensors with the rows along axis 0. A pure function of its arguments. It
        may have 0 rows (the last batch of an epoch with fewer rows than shards)."""


class ArrayDataset(Dataset):
    """Rows of arrays held on the host (tabular data, a fixed validation set).

    Args:
      data: an array or a nested structure (tuple, list, dict) of arrays with equal first
        dimension, e.g. ``(x, y)``; batches have the same structure.
      batch_size: rows per shard in a full batch (the global batch is ``batch_size`` times the
        number of shards).
      shuffle: reorder the rows every epoch by a permutation that depends only on
        (``seed``, epoch); False: the stored order every epoch.
      seed: integer >= 0.
      drop_remainder: drop the last global batch when it has fewer than
        ``batch_size * num_shards`` rows; otherwise it is split among the shards as evenly as
        possible (a shard gets 0 rows when there are fewer rows than shards).
    """

    def __init__(self, data, batch_size, *, shuffle=True, seed=0, drop_remainder=False):
        self.data = tf.nest.map_structure(np.asarray, data)
        lengths = {len(array) for array in tf.nest.flatten(self.data)}
        if len(lengths) != 1:
            raise ValueError(f"data arrays must have equal first dimensions, got {sorted(lengths)}")
        self.rows = lengths.pop()
        self.batch_size = validation.integer("batch_size", batch_size, 1)
        self.seed = validation.integer("seed", seed, 0)
        self.shuffle = shuffle
        self.drop_remainder = drop_remainder
        self._order = (None, None)

    def order(self, epoch):
        """The rows of ``epoch`` in reading order (int64 [rows])."""
        if not self.shuffle:
            return np.arange(self.rows)
        if self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(self.rows))
        return self._order[1]

    def batches_per_epoch(self, num_shards=1):
        if self.rows < num_shards:
            raise ValueError(f"data has {self.rows} rows, fewer than the {num_shards} shards")
        rounding = math.floor if self.drop_remainder else math.ceil
        return rounding(self.rows / (self.batch_size * num_shards))

    def batch(self, epoch, index, shard=0, num_shards=1):
        global_batch = self.batch_size * num_shards
        rows = self.order(epoch)[index * global_batch:(index + 1) * global_batch]
        mine = rows[shard * len(rows) // num_shards:(shard + 1) * len(rows) // num_shards]
        return tf.nest.map_structure(lambda array: tf.constant(array[mine]), self.data)


class GeneratedDataset(Dataset):
    """Batches drawn by a function of a stateless seed (synthetic or simulated data).

    Args:
      generate: ``generate(seed, batch_size)`` -> a batch (tensor or nested structure) with
        ``batch_size`` rows, a pure function of the int64 ``[2]`` seed.
      batch_size: rows each shard draws per batch.
      batches_per_epoch: batches in an epoch.
      seed: integer; shard s draws batch i of epoch e from ``fold_seed(seed, e, i, s)``, so
        every shard draws its own batch and the number of shards changes the data.
    """

    def __init__(self, generate, batch_size, batches_per_epoch, *, seed=0):
        self.generate = generate
        self.batch_size = validation.integer("batch_size", batch_size, 1)
        self._batches = validation.integer("batches_per_epoch", batches_per_epoch, 1)
        self.seed = validation.integer("seed", seed)

    def batches_per_epoch(self, num_shards=1):
        return self._batches

    def batch(self, epoch, index, shard=0, num_shards=1):
        return self.generate(fold_seed(self.seed, epoch, index, shard), self.batch_size)


def read_batches(dataset, epoch, indices, shard=0, num_shards=1, *, workers=0, prefetch=False):
    """The batches ``indices`` of ``epoch`` for ``shard``, in order, as an iterator.

    ``workers`` = 0 and no ``prefetch``: each batch is read when the iterator is advanced.
    Otherwise a ``tf.data`` pipeline over the indices reads them with ``workers`` parallel
    readers (``map(num_parallel_calls=workers)``, deterministic order) and, with ``prefetch``,
    keeps one batch ready ahead, on the GPU when there is one (PyTorch's ``num_workers`` and
    ``pin_memory``). The batches are the same either way: ``Dataset.batch`` is a pure function
    of its arguments, so reading ahead changes no state.
    """
    indices = list(indices)
    if not indices:
        return iter(())
    if workers == 0 and not prefetch:
        return (dataset.batch(epoch, index, shard, num_shards) for index in indices)
    first = dataset.batch(epoch, indices[0], shard, num_shards)
    flat = tf.nest.flatten(first)

    def read(index):
        return tf.nest.flatten(dataset.batch(epoch, int(index), shard, num_shards))

    def read_in_graph(index):
        values = tf.py_function(read, [index], Tout=[t.dtype for t in flat])
        for value, example in zip(values, flat):
            value.set_shape([None, *example.shape[1:]])
        return tf.nest.pack_sequence_as(first, values)

    pipeline = tf.data.Dataset.from_tensor_slices(tf.constant(indices[1:], tf.int64)).map(
        read_in_graph, num_parallel_calls=max(workers, 1), deterministic=True)
    if prefetch:
        gpus = tf.config.list_logical_devices("GPU")
        pipeline = pipeline.apply(tf.data.experimental.prefetch_to_device(gpus[0].name)) \
            if gpus else pipeline.prefetch(1)
    return itertools.chain([first], pipeline)
