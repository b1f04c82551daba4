"""The shared layer test fails for layers that break its contract."""
import keras
import pytest
import tensorflow as tf

from tests.layer_test_case import run_layer_test


@keras.saving.register_keras_serializable(package="tfqsr_tests")
class Scale(keras.layers.Layer):
    """x * w, with an optional weight that the output ignores and a config that can drop ``width``."""

    def __init__(self, width, unused_weight=False, forget_width=False, **kwargs):
        super().__init__(**kwargs)
        self.width, self.unused_weight, self.forget_width = width, unused_weight, forget_width

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(self.width,), initializer="ones")
        if self.unused_weight:
            self.unused = self.add_weight(name="unused", shape=(self.width,), initializer="zeros")

    def call(self, inputs):
        return inputs * self.scale

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, unused_weight=self.unused_weight, forget_width=self.forget_width)
        if self.forget_width:
            config["width"] = 1
        return config


INPUTS = tf.ones([2, 3])


def test_a_conforming_layer_passes():
    run_layer_test(Scale, dict(width=3), INPUTS, expected_output_shape=(2, 3),
                   expected_num_trainable_weights=1)


@pytest.mark.parametrize("init_kwargs,expected,message", [
    (dict(width=3), dict(expected_output_shape=(2, 3), expected_num_trainable_weights=2), "weights"),
    (dict(width=3), dict(expected_output_shape=(2, 4), expected_num_trainable_weights=1), "output shape"),
    (dict(width=3, unused_weight=True), dict(expected_output_shape=(2, 3), expected_num_trainable_weights=2),
     "unused"),
    (dict(width=3, forget_width=True), dict(expected_output_shape=(2, 3), expected_num_trainable_weights=1),
     "width"),
], ids=["weight-count", "output-shape", "weight-without-gradient", "config-drops-an-argument"])
def test_a_broken_layer_fails(init_kwargs, expected, message):
    with pytest.raises(AssertionError, match=message):
        run_layer_test(Scale, init_kwargs, INPUTS, **expected)
