"""One shared check for every Keras layer of the package, after keras-hub's ``run_layer_test``.

Each phase builds a fresh layer with ``layer_cls(**init_kwargs)``, so that no phase passes
because of state another left behind (a built layer, traced functions, trained weights):

1. config: ``get_config`` holds every init argument, ``from_config`` gives the same config, and
   the layer serializes to JSON and back by its registered name;
2. symbolic: a call on ``keras.Input`` builds the layer with the expected output shape (batch
   unknown) and the expected numbers of trainable and non-trainable weights;
3. eager and ``tf.function`` calls give the expected output shape and equal outputs;
4. one optimizer step changes every trainable weight and no non-trainable one;
5. a ``.keras`` save and load restores every weight (perturbed first, so that initial values
   cannot pass for restored ones) and gives equal outputs.
"""
import json
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf


def run_layer_test(layer_cls, init_kwargs, inputs, *, expected_output_shape,
                   expected_num_trainable_weights, expected_num_non_trainable_weights=0,
                   call=None):
    """Run the five phases above on ``layer_cls(**init_kwargs)``.

    Args:
      layer_cls: a Keras layer class registered for serialization.
      init_kwargs: its constructor arguments.
      inputs: a concrete input tensor ``[batch, ...]``.
      expected_output_shape: the shape of the output for ``inputs``.
      expected_num_trainable_weights, expected_num_non_trainable_weights: how many weights the
        built layer holds, its sublayers' included.
      call: ``call(layer, x)`` returning one real tensor (default ``layer(x)``).
    """
    call = call or (lambda layer, x: layer(x))
    expected_output_shape = tuple(expected_output_shape)

    def fresh_layer():
        return layer_cls(**init_kwargs)

    def assert_weight_counts(layer):
        counts = (len(layer.trainable_weights), len(layer.non_trainable_weights))
        assert counts == (expected_num_trainable_weights, expected_num_non_trainable_weights), (
            f"(trainable, non-trainable) weights: {counts}")

    _check_config(fresh_layer(), init_kwargs)

    layer = fresh_layer()
    symbolic = call(layer, keras.Input(shape=inputs.shape[1:], dtype=inputs.dtype))
    assert tuple(symbolic.shape) == (None,) + expected_output_shape[1:], f"output shape {symbolic.shape}"
    assert_weight_counts(layer)

    layer = fresh_layer()
    eager = call(layer, inputs)
    assert tuple(eager.shape) == expected_output_shape, f"output shape {eager.shape}"
    assert_weight_counts(layer)
    np.testing.assert_allclose(tf.function(lambda x: call(layer, x))(inputs), eager,
                               rtol=1e-5, atol=1e-6)

    _check_training_step(fresh_layer(), inputs, call)
    _check_saving(fresh_layer(), inputs, call)


def _check_config(layer, init_kwargs):
    config = layer.get_config()
    for name, value in init_kwargs.items():
        assert config[name] == value, f"get_config()[{name!r}] = {config[name]!r}, not {value!r}"
    assert type(layer).from_config(config).get_config() == config
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(layer) and restored.get_config() == config


def _check_training_step(layer, inputs, call):
    """One Adam step on sum(output * r), r random: every weight gets a gradient and moves."""
    outputs = call(layer, inputs)
    projection = tf.random.stateless_normal(outputs.shape, seed=[0, 1], dtype=outputs.dtype)
    weights = layer.trainable_weights
    before = [np.array(w) for w in layer.weights]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(call(layer, inputs) * projection)
    grads = tape.gradient(loss, weights)
    assert all(g is not None for g in grads), [w.path for w, g in zip(weights, grads) if g is None]
    keras.optimizers.Adam(1e-2).apply_gradients(zip(grads, weights))
    trainable = {id(w) for w in weights}
    unchanged = [w.path for w, b in zip(layer.weights, before)
                 if (id(w) in trainable) == np.array_equal(b, np.array(w))]
    assert not unchanged, f"trainable weights that did not move, or non-trainable that did: {unchanged}"


def _check_saving(layer, inputs, call):
    model = keras.Sequential([keras.Input(batch_shape=inputs.shape, dtype=inputs.dtype), layer])
    for i, weight in enumerate(layer.weights):
        weight.assign(weight + 0.1 * tf.random.stateless_normal(weight.shape, [2, i], dtype=weight.dtype))
    path = os.path.join(tempfile.mkdtemp(), "layer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path).layers[-1]
    assert type(loaded) is type(layer)
    for weight, restored in zip(layer.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(restored, weight, err_msg=weight.path)
    np.testing.assert_allclose(call(loaded, inputs), call(layer, inputs), rtol=1e-6, atol=1e-6)
