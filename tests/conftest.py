"""Shared test settings and fixtures: quiet TensorFlow, a float64 Keras policy."""
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def float64():
    """Build models in float64 (floatx and dtype policy) for the test, then restore both."""
    import keras  # here, not at import: the pytest-xdist controller never loads TensorFlow
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(floatx)
    keras.config.set_dtype_policy(policy)
