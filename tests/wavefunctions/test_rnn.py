"""The recurrent wavefunction: the shared wavefunction contract on 3x3 (1-site words, 1x3 patches)
and 4x4 (2x2 patches), the recurrent core as a layer, and its bad arguments."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_layer_test
from tests.wavefunctions.contract import (check_log_psi_connected, check_normalization, perturb_weights,
                                         run_large_lattice_test, run_wavefunction_test)
from tfqsr import hilbert
from tfqsr.validation import ConfigError
from tfqsr.wavefunctions import RNNWavefunction, TokenRNN


def _model(n_sites, scale=0.3, **kwargs):
    """A small seeded model with random, far-from-uniform conditionals; on 4x4, ``scale`` 1
    concentrates p on a few hundred configurations, so that a chi-square test of 10^4 samples
    has bins to test."""
    kwargs.setdefault("Nh", 8)
    keras.utils.set_random_seed(0)
    return perturb_weights(RNNWavefunction(n_sites, **kwargs), scale=scale)


def test_wavefunction_contract_3x3_patches_1x3():
    run_wavefunction_test(_model(9, layout=hilbert.PatchLayout((3, 3), (1, 3)), rnntype="elman"))


@pytest.mark.slow
def test_normalization_and_prefix_reuse_3x3_single_sites():
    """Nine tokens: the sampler phases (an uncached sampler of nine full passes) run on the
    three-token cases."""
    model = _model(9, rnntype="GRU")
    check_normalization(model)
    check_log_psi_connected(model, 1000, 2e-5)


def test_large_lattice_contract_2x2_patches():
    model = _model(16, scale=1.0, layout=hilbert.PatchLayout((4, 4), (2, 2)))
    run_large_lattice_test(model, n_samples=10_000)


def test_conditionals_follow_the_recurrence():
    """An independent numpy GRU (Keras's reset-after convention) gives the same log p."""
    model = _model(6, dictionary_size=4)
    cell = model.rnn.cell
    kernel, recurrent, bias = (np.asarray(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    tokens = np.array([[3, 0, 2], [1, 1, 0]])
    h = np.zeros((2, model.Nh))
    expected = np.zeros((2, 3))
    sigmoid = lambda u: 1 / (1 + np.exp(-u))  # noqa: E731
    for t in range(3):
        x = np.eye(5)[tokens[:, t - 1] if t else np.full(2, 4)]
        xz, xr, xh = np.split(x @ kernel + bias[0], 3, axis=-1)
        hz, hr, hh = np.split(h @ recurrent + bias[1], 3, axis=-1)
        z, r = sigmoid(xz + hz), sigmoid(xr + hr)
        h = z * h + (1 - z) * np.tanh(xh + r * hh)
        dense, logits_dense = model.rnn.hidden_dense, model.rnn.logits_dense
        hidden = np.maximum(h @ np.asarray(dense.kernel) + np.asarray(dense.bias), 0)
        logits = hidden @ np.asarray(logits_dense.kernel) + np.asarray(logits_dense.bias)
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        expected[:, t] = log_p[np.arange(2), tokens[:, t]]
    x = model.layout.to_spins(tf.constant(tokens, tf.int32))
    np.testing.assert_allclose(model.log_prob(x).numpy(), expected.sum(-1), atol=1e-5)


@pytest.mark.parametrize("rnntype", ["GRU", "Elman"])
def test_token_rnn_layer_contract(rnntype):
    """Cell kernel, recurrent kernel and bias; two dense layers (kernel, bias)."""
    tokens = tf.constant([[0, 3, 1, 2], [2, 2, 0, 1]])
    run_layer_test(TokenRNN, dict(dictionary_size=4, Nh=6, rnntype=rnntype.upper()), tokens,
                   expected_output_shape=(2, 4, 4), expected_num_trainable_weights=7)


def test_bad_rnntype_is_a_config_error():
    with pytest.raises(ConfigError, match="rnntype must be one of GRU, ELMAN"):
        RNNWavefunction(4, rnntype="LSTM", Nh=4)


def test_bad_hidden_width_is_a_config_error():
    with pytest.raises(ConfigError, match="Nh must be an integer >= 1"):
        RNNWavefunction(4, Nh=0)
