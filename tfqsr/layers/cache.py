"""A differentiable in-place write into a decoder cache.

Cached decoders (key/value caches, recurrent hidden-state histories) write the rows of each new
position into a preallocated table, ``table[start : start + shape(updates)] = updates``.
``keras.ops.slice_update`` does this with XLA's dynamic-update-slice, which costs the size of
the update but has no gradient in TensorFlow; ``slice_update`` here is the same operation with
its gradient,

    d table   = upstream with the written block set to zero,
    d updates = upstream[start : start + shape(updates)],

so log p gathered while sampling (the NN-QSR code's ``sgrad=True``) can be differentiated
through the cache, at the cost of the written block per step in both directions.
"""
import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla


def slice_update(table, start, updates):
    """``table`` with the block at ``start`` (one int or scalar tensor per axis) replaced by
    ``updates``; differentiable in ``table`` and ``updates``."""
    return _slice_update(table, updates, tf.stack([tf.cast(index, tf.int32) for index in start]))


@tf.custom_gradient
def _slice_update(table, updates, start):
    def gradient(upstream):
        # itself differentiable: TensorFlow may differentiate the backward pass of a function
        # (persistent tapes, higher orders)
        return (_slice_update(upstream, tf.zeros_like(updates), start),
                tf.slice(upstream, start, tf.shape(updates)), None)
    return xla.dynamic_update_slice(table, updates, start), gradient
