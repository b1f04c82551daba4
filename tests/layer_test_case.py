"""One shared check for every Keras layer and model in the package (keras-hub's habit).

``run_layer_test`` checks: the config round-trips, eager and ``tf.function`` calls agree, one
training step changes the weights, and a ``.keras`` save/load gives equal outputs.
"""
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf


def run_layer_test(layer, inputs, call=None):
    """``call(layer, inputs)`` (default ``layer(inputs)``) must return a real tensor."""
    call = call or (lambda lyr, x: lyr(x))
    eager = call(layer, inputs)
    graph = tf.function(lambda x: call(layer, x))(inputs)
    np.testing.assert_allclose(eager, graph, rtol=1e-5, atol=1e-6)

    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    wrapper = keras.Sequential([keras.Input(batch_shape=inputs.shape, dtype=inputs.dtype), layer])
    path = os.path.join(tempfile.mkdtemp(), "layer.keras")
    wrapper.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(call(loaded.layers[-1], inputs), eager, rtol=1e-6, atol=1e-6)

    before = [np.array(v) for v in layer.trainable_variables]
    optimizer = keras.optimizers.Adam(1e-2)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(call(layer, inputs)))
    grads = tape.gradient(loss, layer.trainable_variables)
    assert all(g is not None for g in grads), "every trainable weight must receive a gradient"
    optimizer.apply_gradients(zip(grads, layer.trainable_variables))
    changed = [not np.array_equal(b, np.array(v)) for b, v in zip(before, layer.trainable_variables)]
    assert any(changed)
