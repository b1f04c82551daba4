"""The transformer wavefunction against exact enumeration over all configurations."""
import os
import tempfile

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from tfqsr import hilbert
from tfqsr.wavefunctions import TransformerWavefunction


def _model(n_sites=6, **kwargs):
    kwargs.setdefault("clip_distance", 2)
    kwargs.setdefault("d_model", 16)
    keras.utils.set_random_seed(0)  # weights independent of the tests run before
    model = TransformerWavefunction(n_sites, **kwargs)
    # Random but far-from-uniform conditionals make the sampler tests sharp.
    for variable in model.trainable_variables:
        variable.assign(variable + tf.random.stateless_normal(variable.shape, [7, len(variable.path)]) * 0.3)
    return model


@pytest.mark.parametrize("dictionary_size,phase", [(2, False), (4, False), (8, True), (64, True)])
def test_probabilities_sum_to_one(dictionary_size, phase):
    model = _model(dictionary_size=dictionary_size, phase=phase)
    x = hilbert.all_configurations(6)
    np.testing.assert_allclose(np.exp(model.log_prob(x).numpy().astype(np.float64)).sum(), 1.0, atol=1e-5)


def test_log_psi_is_half_log_prob_plus_phase():
    model = _model(phase=True)
    x = hilbert.all_configurations(6)
    log_psi = model.log_psi(x).numpy()
    assert log_psi.dtype == np.complex64
    np.testing.assert_allclose(log_psi.real, 0.5 * model.log_prob(x).numpy(), atol=1e-6)
    assert np.all(np.abs(log_psi.imag) < 6 * np.pi) and np.std(log_psi.imag) > 0.01
    assert _model().log_psi(x).dtype == tf.float32


@pytest.mark.parametrize("dictionary_size", [2, 4])
def test_cached_and_uncached_sampling_agree(dictionary_size):
    model = _model(dictionary_size=dictionary_size)
    cached = model.sample(64, [3, 4]).numpy()
    uncached = model.sample_uncached(64, [3, 4]).numpy()
    np.testing.assert_array_equal(cached, uncached)
    assert cached.dtype == np.int32 and cached.shape == (64, 6) and set(np.unique(cached)) <= {0, 1}


def test_sampling_is_reproducible_and_seed_dependent():
    model = _model()
    np.testing.assert_array_equal(model.sample(32, [1, 2]), model.sample(32, [1, 2]))
    assert not np.array_equal(model.sample(32, [1, 2]), model.sample(32, [1, 3]))


@pytest.mark.parametrize("dictionary_size", [2, 4])
def test_cached_sampling_follows_exp_log_prob(dictionary_size):
    """Chi-square test of 40,000 samples on 6 spins against p(x) = exp(log_prob(x))."""
    model = _model(dictionary_size=dictionary_size)
    n = 40_000
    x = model.sample(n, [11, 12]).numpy()
    counts = np.bincount(hilbert.configurations_to_indices(x), minlength=64)
    p = np.exp(model.log_prob(hilbert.all_configurations(6)).numpy().astype(np.float64))
    p /= p.sum()
    expected = n * p
    keep = expected >= 5  # pool the rare configurations into one bin
    observed = np.append(counts[keep], counts[~keep].sum())
    expected = np.append(expected[keep], expected[~keep].sum())
    statistic, p_value = scipy.stats.chisquare(observed, expected)
    assert p_value > 1e-4, f"chi2={statistic:.1f} over {len(observed) - 1} dof, p={p_value:.2e}"


def test_sampler_chi_square_detects_a_wrong_distribution():
    """The same test fails for samples of another model: the test can fail."""
    model, other = _model(), _model(d_model=8)
    x = other.sample(40_000, [11, 12]).numpy()
    counts = np.bincount(hilbert.configurations_to_indices(x), minlength=64)
    p = np.exp(model.log_prob(hilbert.all_configurations(6)).numpy().astype(np.float64))
    _, p_value = scipy.stats.chisquare(counts, 40_000 * p / p.sum())
    assert p_value < 1e-6


def test_keras_file_round_trip_preserves_log_psi():
    model = _model(phase=True, dictionary_size=4)
    path = os.path.join(tempfile.mkdtemp(), "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, TransformerWavefunction) and loaded.get_config() == model.get_config()
    x = hilbert.all_configurations(6)
    np.testing.assert_allclose(loaded.log_psi(x), model.log_psi(x), atol=1e-6)


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


@pytest.mark.parametrize("dictionary_size,phase", [(2, False), (4, True), (8, True)])
def test_log_psi_connected_equals_log_psi(dictionary_size, phase):
    """Shared-prefix evaluation (decode_from) against full passes, for columns changing from
    every site on, a pair flip, a swapped tail and an unchanged column."""
    n_sites = 12
    model = _model(n_sites, dictionary_size=dictionary_size, phase=phase)
    x = model.sample(16, tf.constant([0, 1])).numpy()
    eye = np.eye(n_sites, dtype=np.int32)
    masks = np.concatenate([np.zeros((1, n_sites), np.int32), eye, eye[2:3] + eye[9:10]])
    x_conn = x[:, None] ^ masks[None]
    tail = np.concatenate([x[:, :7], np.roll(x, 1, axis=0)[:, 7:]], axis=1)  # sites 7.. swapped
    x_conn = np.concatenate([x_conn, tail[:, None]], axis=1)
    first = (n_sites,) + tuple(range(n_sites)) + (2, 7)
    got = model.log_psi_connected(tf.constant(x_conn), first).numpy()
    expected = model.log_psi(x_conn.reshape(-1, n_sites)).numpy().reshape(got.shape)
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_log_psi_connected_without_decode_from_uses_full_passes():
    from tfqsr.wavefunctions.base import AutoregressiveWavefunction

    class FullPassesOnly(TransformerWavefunction):
        decode_from = AutoregressiveWavefunction.decode_from

    keras.utils.set_random_seed(0)
    model = FullPassesOnly(6, clip_distance=2, d_model=8)
    x_conn = hilbert.all_configurations(6).reshape(8, 8, 6)
    got = model.log_psi_connected(x_conn, (0,) * 8).numpy()
    np.testing.assert_allclose(got.ravel(), model.log_psi(x_conn.reshape(-1, 6)).numpy(), atol=1e-6)
