"""The transformer wavefunction: the shared wavefunction contract on chains and 2D patches, and
what is particular to the transformer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfqsr import hilbert
from tfqsr.wavefunctions import TransformerWavefunction
from tests.wavefunctions.contract import perturb_weights, run_wavefunction_test


def _model(n_sites=6, **kwargs):
    """A small seeded transformer with random, far-from-uniform conditionals (sharp sampler
    tests)."""
    kwargs.setdefault("clip_distance", 2)
    kwargs.setdefault("d_model", 16)
    keras.utils.set_random_seed(0)  # weights independent of the tests run before
    return perturb_weights(TransformerWavefunction(n_sites, **kwargs))


@pytest.mark.parametrize("kwargs", [
    {"dictionary_size": 4, "phase": True},
    {"n_sites": 8, "layout": hilbert.PatchLayout((2, 4), (2, 2)), "phase": True},
    {"n_sites": 8, "layout": hilbert.NestedPatchLayout((2, 4), (2, 2), (1, 2))},
], ids=["words2-phase", "patches2x2-phase", "nested2x2-1x2"])
def test_wavefunction_contract(kwargs):
    run_wavefunction_test(_model(**kwargs))


def test_sampling_is_reproducible_and_seed_dependent():
    model = _model()
    np.testing.assert_array_equal(model.sample(32, [1, 2]), model.sample(32, [1, 2]))
    assert not np.array_equal(model.sample(32, [1, 2]), model.sample(32, [1, 3]))


def test_conditionals_at_i_ignore_tokens_at_and_after_i():
    model = _model()
    tokens = tf.constant([[0, 1, 1, 0, 1, 0]])
    changed = tf.constant([[0, 1, 1, 1, 0, 1]])
    a, b = model.conditionals(tokens)[0], model.conditionals(changed)[0]
    np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    ({"dictionary_size": 3}, "dictionary_size"),
    ({"n_sites": 7, "dictionary_size": 4}, "n_sites"),
    ({"num_heads": 3}, "num_heads"),
    ({"clip_distance": 0}, "clip_distance"),
    ({"num_layers": 0}, "num_layers"),
])
def test_invalid_arguments(kwargs, match):
    kwargs = {"n_sites": 6, "d_model": 16, **kwargs}
    with pytest.raises(ValueError, match=match):
        TransformerWavefunction(**kwargs)


def test_log_psi_connected_without_decode_from_uses_full_passes():
    from tfqsr.wavefunctions.base import AutoregressiveWavefunction

    class FullPassesOnly(TransformerWavefunction):
        decode_from = AutoregressiveWavefunction.decode_from

    keras.utils.set_random_seed(0)
    model = FullPassesOnly(6, clip_distance=2, d_model=8)
    x_conn = hilbert.all_configurations(6).reshape(8, 8, 6)
    got = model.log_psi_connected(x_conn, (0,) * 8).numpy()
    np.testing.assert_allclose(got.ravel(), model.log_psi(x_conn.reshape(-1, 6)).numpy(), atol=1e-6)
