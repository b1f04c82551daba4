"""Samples of an autoregressive wavefunction in minibatches.

``minibatch_samples(model, batch, minibatch, seed)`` draws ``batch = Q * K`` exact samples as Q
calls of ``model.sample(K)`` (the original NN-QSR code's minibatches: the cache of one call
holds K sequences), each with its own stateless seed ``fold_in(seed, q)``.

The cached decoders of tfqsr's models write their caches with slice updates, which have no
gradient, so the VMC gradient always takes log psi from a differentiable full pass over the
samples (the NN-QSR code's ``sgrad=False``).
"""
import tensorflow as tf


def minibatch_samples(model, batch, minibatch, seed):
    """``batch`` samples int32 [batch, N] of ``model`` drawn as ``batch // minibatch`` calls of
    ``minibatch`` samples (``minibatch`` must divide ``batch``), seeds folded from ``seed``."""
    if minibatch is None or minibatch >= batch:
        return model.sample(batch, seed)
    return tf.concat([model.sample(minibatch, tf.random.experimental.stateless_fold_in(seed, q))
                      for q in range(batch // minibatch)], axis=0)
