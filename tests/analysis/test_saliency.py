"""Saliency metrics on a random transformer: causality gives exact zeros, integrated gradients
are complete up to the Riemann error, the metrics equal independent computations."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfqsr import hilbert
from tfqsr.analysis import saliency
from tfqsr.wavefunctions import TransformerWavefunction

N_SITES = 8


@pytest.fixture(scope="module", params=[2, 4], ids=["d2", "d4"])
def model_and_samples(request):
    keras.utils.set_random_seed(5)  # weights independent of the tests run before
    model = TransformerWavefunction(N_SITES, request.param, num_layers=2, num_heads=2, d_model=8,
                                    phase=True)
    return model, model.sample(12, tf.constant([3, 4])).numpy()


METRICS = {
    "spin_flip": lambda m, x: saliency.spin_flip_propagation(m, x),
    "input_x_gradient": lambda m, x: saliency.input_times_gradient(m, x),
    "integrated_attention_gradient": lambda m, x: saliency.integrated_attention_gradient(m, x, steps=4),
}


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_is_exactly_zero_where_the_conditional_ignores_the_input(model_and_samples, name):
    model, x = model_and_samples
    matrix = METRICS[name](model, x)
    t = model.n_tokens
    assert matrix.shape == (t, t)
    assert np.all(np.triu(matrix) == 0.0)  # j >= i: causal masking
    assert np.all(np.tril(matrix, k=-1)[1:] >= 0) and np.any(np.tril(matrix, k=-1) > 0)


def test_integrated_gradients_are_complete_up_to_the_riemann_error(model_and_samples):
    """sum over all attention entries of A * (Riemann mean of the gradient) = l(A) - l(0) up to
    the midpoint-rule error, which is O(1/S^2): estimated from S and 2S steps (Richardson) as
    |I_S - I_2S| / 3 for I_2S, checked here with a factor 3 of margin."""
    model, x = model_and_samples
    # A random transformer's l(alpha A) is steep near alpha = 0: the 1/S^2 regime starts near
    # S = 64 (measured errors 0.76, 0.036, 0.0021, 0.00013 for S = 32, 64, 256, 1024).
    coarse, difference = saliency.integrated_attention_completeness(model, x[:4], steps=128)
    fine, _ = saliency.integrated_attention_completeness(model, x[:4], steps=256)
    error = np.abs(fine - difference)
    assert np.all(error <= np.abs(coarse - fine) + 1e-4)
    assert np.sum(error) < np.sum(np.abs(coarse - difference)) / 2.5


def test_spin_flip_matches_an_explicit_computation(model_and_samples):
    model, x = model_and_samples
    tokens = model.layout.to_tokens(x).numpy()
    p = np.exp(model.conditionals(tokens)[0].numpy().astype(np.float64))
    expected = np.zeros((model.n_tokens, model.n_tokens))
    for j in range(model.n_tokens):
        flipped = tokens.copy()
        flipped[:, j] ^= model.dictionary_size - 1
        q = np.exp(model.conditionals(flipped)[0].numpy().astype(np.float64))
        m = (p + q) / 2
        jsd = 0.5 * np.sum(p * np.log(p / m) + q * np.log(q / m), axis=-1)  # [B, i]
        expected[:, j] = jsd.mean(axis=0)
    np.testing.assert_allclose(saliency.spin_flip_propagation(model, x), expected, atol=1e-6)


def test_input_x_gradient_matches_finite_differences(model_and_samples):
    model, x = model_and_samples
    tokens = model.layout.to_tokens(x[:1])
    h = model.embed(tokens).numpy().astype(np.float64)
    i, j, eps = model.n_tokens - 1, 1, 1e-3

    def target(hh):
        log_cond = model.decode(tf.constant(hh, tf.float32))[0]
        return float(tf.gather(log_cond, tokens, batch_dims=2)[0, i])

    gradient = np.zeros(h.shape[-1])
    for k in range(h.shape[-1]):
        up, down = h.copy(), h.copy()
        up[0, j + 1, k] += eps
        down[0, j + 1, k] -= eps
        gradient[k] = (target(up) - target(down)) / (2 * eps)
    expected = np.linalg.norm(h[0, j + 1] * gradient)
    assert saliency.input_times_gradient(model, x[:1])[i, j] == pytest.approx(expected, rel=2e-2)


def test_gradient_metrics_need_a_transformer():
    class Plain:
        n_sites, layout = 2, hilbert.WordLayout(2)

    with pytest.raises(TypeError, match="embed"):
        saliency.input_times_gradient(Plain(), np.zeros((1, 2), np.int32))


def test_invalid_riemann_steps_are_rejected(model_and_samples):
    model, x = model_and_samples
    with pytest.raises(ValueError, match="steps"):
        saliency.integrated_attention_gradient(model, x, steps=0)
