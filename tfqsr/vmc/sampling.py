"""Samples of an autoregressive wavefunction in minibatches.

``minibatch_samples(model, batch, minibatch, seed)`` draws ``batch = Q * K`` exact samples as Q
calls of ``model.sample(K)`` (the original NN-QSR code's minibatches: the cache of one call
holds K sequences), each with its own stateless seed ``fold_in(seed, q)``.

With ``with_log_psi=True`` each call also returns log psi of its samples gathered while
decoding (``model.sample_with_log_psi``), differentiable through the cache: the VMC gradient
then needs no second pass over the samples (the NN-QSR code's ``sgrad=True``; ``sgrad=False``
recomputes log psi by a differentiable full pass, the original's default).
"""
import tensorflow as tf


def minibatch_samples(model, batch, minibatch, seed, with_log_psi=False):
    """``batch`` samples int32 [batch, N] of ``model`` drawn as ``batch // minibatch`` calls of
    ``minibatch`` samples (``minibatch`` must divide ``batch``; None: one call), seeds folded
    from ``seed``; with ``with_log_psi``, (samples, their differentiable log psi [batch])."""
    draw = model.sample_with_log_psi if with_log_psi else model.sample
    if minibatch is None or minibatch >= batch:
        return draw(batch, seed)
    parts = [draw(minibatch, tf.random.experimental.stateless_fold_in(seed, q)) for q in range(batch // minibatch)]
    return tf.nest.map_structure(lambda *tensors: tf.concat(tensors, axis=0), *parts)
