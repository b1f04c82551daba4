"""The patched transformer (PTF): the shared wavefunction contract on 3x3 (1-site words, 1x3
patches) and 4x4 (2x2 patches), its decoder as a layer, grid positions and bad arguments."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_test_case import run_layer_test
from tests.wavefunctions.contract import (
    check_config_round_trip, check_log_psi_connected, check_normalization, check_sampling, perturb_weights,
    run_wavefunction_test)
from tfqsr import hilbert
from tfqsr.validation import ConfigError
from tfqsr.wavefunctions.patched import PatchedTransformer, PatchTransformerCore, token_grid_positions


def _model(n_sites, scale=0.3, **kwargs):
    """A small seeded model with random, far-from-uniform conditionals (``scale`` as in
    test_rnn)."""
    kwargs = {"Nh": 8, "nhead": 2, **kwargs}
    keras.utils.set_random_seed(0)
    return perturb_weights(PatchedTransformer(n_sites, **kwargs), scale=scale)


def test_wavefunction_contract_3x3_patches_1x3():
    run_wavefunction_test(_model(9, layout=hilbert.PatchLayout((3, 3), (1, 3))))


@pytest.mark.slow
def test_normalization_and_prefix_reuse_3x3_single_sites():
    """Nine tokens: the sampler phases run on the three- and four-token cases."""
    model = _model(9, layout=hilbert.PatchLayout((3, 3), (1, 1)), num_layers=1)
    check_normalization(model)
    check_log_psi_connected(model, 1000, 2e-5)


@pytest.fixture(scope="module")
def model_4x4():
    """Named, so that its weights (perturbed by variable path) do not depend on the tests run
    before it."""
    return _model(16, scale=1.0, layout=hilbert.PatchLayout((4, 4), (2, 2)), num_layers=1, name="ptf_4x4")


def test_normalization_and_prefix_reuse_4x4_2x2_patches(model_4x4):
    check_normalization(model_4x4)
    check_log_psi_connected(model_4x4, 1000, 2e-5)
    check_config_round_trip(model_4x4)


@pytest.mark.slow  # XLA compiles each start: ~10 s
def test_prefix_reuse_with_xla_4x4_2x2_patches():
    """``connected_jit_compile`` (model_builder's setting for the transformers) gives the same
    log psi as full passes."""
    model = _model(16, scale=1.0, layout=hilbert.PatchLayout((4, 4), (2, 2)), num_layers=1, name="ptf_4x4_xla")
    model.connected_jit_compile = True
    check_log_psi_connected(model, 1000, 2e-5)


@pytest.mark.slow
def test_sampling_4x4_2x2_patches(model_4x4):
    """Cached against uncached and chi-square sampling (the rest of run_large_lattice_test)."""
    check_sampling(model_4x4, 10_000, (3, 4))


def test_core_layer_contract():
    """Token projection (kernel, bias), one block (12), final norm (2), two head layers (4)."""
    positions = token_grid_positions(hilbert.PatchLayout((2, 4), (1, 2)))
    run_layer_test(PatchTransformerCore, dict(token_size=2, positions=positions.tolist(), Nh=8,
                                              num_layers=1, nhead=2, dropout=0.0, dictionary_size=4),
                   tf.constant([[0, 3, 1, 2], [2, 2, 0, 1]]), expected_output_shape=(2, 4, 4),
                   expected_num_trainable_weights=20)


def test_token_grid_positions():
    np.testing.assert_array_equal(token_grid_positions(hilbert.PatchLayout((4, 6), (2, 3))),
                                  [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(token_grid_positions(hilbert.WordLayout(6, 2)), [[0, 0], [0, 1], [0, 2]])
    np.testing.assert_array_equal(token_grid_positions(hilbert.NestedPatchLayout((4, 4), (2, 4), (2, 2))),
                                  [[0, 0], [0, 1], [1, 0], [1, 1]])


def test_dropout_acts_only_in_training():
    model = _model(4, dropout=0.5, layout=hilbert.PatchLayout((2, 2), (1, 1)))
    x = tf.constant(hilbert.all_configurations(4))
    np.testing.assert_allclose(model(x), model.conditionals(model.layout.to_tokens(x))[0], atol=1e-6)
    assert not np.allclose(model(x, training=True), model(x))


def test_nheads_is_an_alias_of_nhead():
    assert PatchedTransformer(4, Nh=8, nheads=4).get_config()["nhead"] == 4


def test_nhead_and_nheads_disagreeing_is_a_config_error():
    with pytest.raises(ConfigError, match="nheads must be equal to nhead=2"):
        PatchedTransformer(4, Nh=8, nhead=2, nheads=4)


def test_width_not_a_multiple_of_4_is_a_config_error():
    with pytest.raises(ConfigError, match="Nh must be a multiple of 4"):
        PatchedTransformer(4, Nh=6, nhead=2)


def test_heads_not_dividing_the_width_is_a_config_error():
    with pytest.raises(ConfigError, match="nhead must be a divisor of Nh=12"):
        PatchedTransformer(4, Nh=12, nhead=8)


def test_dropout_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match=r"dropout must be in \[0, 1\)"):
        PatchedTransformer(4, Nh=8, dropout=1.0)
