"""The large patched transformer (LPTF): the shared wavefunction contract with each subsampler,
on nested layouts of 3x3, 2x4 and 4x4 (2x2 small patches inside 4x4 and 2x4 large ones), and
its bad arguments."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.wavefunctions.contract import (
    check_config_round_trip, check_log_psi_connected, check_normalization, check_sampling,
    check_training_step_changes_every_weight, perturb_weights, run_large_lattice_test, run_wavefunction_test)
from tfqsr import hilbert
from tfqsr.validation import ConfigError
from tfqsr.wavefunctions.large_patched import LargePatchedTransformer

SMALL = dict(Nh=8, nhead=2, num_layers=1, sub_nhead=2, sub_num_layers=1)


def _model(lattice, large, small, scale=0.3, **kwargs):
    """A small seeded model with random, far-from-uniform conditionals (``scale`` as in
    test_rnn)."""
    keras.utils.set_random_seed(0)
    layout = hilbert.NestedPatchLayout(lattice, large, small)
    model = LargePatchedTransformer(layout.n_sites, layout=layout, **SMALL, **kwargs)
    return perturb_weights(model, scale=scale)


def test_wavefunction_contract_rnn_subsampler_2x4():
    """Two large 2x2 patches of two 1x2 small patches each."""
    run_wavefunction_test(_model((2, 4), (2, 2), (1, 2), subsampler="rnn", rnntype="elman"))


def test_large_lattice_contract_rnn_subsampler_4x4_in_4x4():
    run_large_lattice_test(_model((4, 4), (4, 4), (2, 2), scale=1.0, subsampler="rnn"), n_samples=10_000)


@pytest.fixture(scope="module")
def ptf_subsampler_4x4():
    """The transformer subsampler on 4x4: two large 2x4 patches of two 2x2 small patches (named,
    so that its weights, perturbed by variable path, do not depend on the tests run before)."""
    return _model((4, 4), (2, 4), (2, 2), scale=1.0, subsampler="ptf", name="lptf_ptf_4x4")


def test_ptf_subsampler_normalization_prefix_reuse_and_training_4x4(ptf_subsampler_4x4):
    """The saved-model round trips of its pieces run in test_patched and above."""
    check_normalization(ptf_subsampler_4x4)
    check_log_psi_connected(ptf_subsampler_4x4, 1000, 2e-5)
    check_config_round_trip(ptf_subsampler_4x4)
    check_training_step_changes_every_weight(ptf_subsampler_4x4)


@pytest.mark.slow
def test_ptf_subsampler_sampling_4x4(ptf_subsampler_4x4):
    check_sampling(ptf_subsampler_4x4, 10_000, (3, 4))


@pytest.mark.slow
@pytest.mark.parametrize("subsampler", ["rnn", "ptf"])
def test_prefix_reuse_with_xla_3x3_single_sites(subsampler):
    """``connected_jit_compile`` (model_builder's setting) on every start inside and between
    large patches."""
    model = _model((3, 3), (1, 3), (1, 1), subsampler=subsampler, name=f"lptf_xla_{subsampler}")
    model.connected_jit_compile = True
    check_log_psi_connected(model, 1000, 2e-5)


@pytest.mark.slow
def test_normalization_and_prefix_reuse_3x3_single_sites():
    """Three large 1x3 patches of three single sites each: every decode_from start inside and
    between large patches."""
    model = _model((3, 3), (1, 3), (1, 1), subsampler="ptf")
    check_normalization(model)
    check_log_psi_connected(model, 1000, 2e-5)


def test_conditionals_of_a_large_patch_ignore_later_large_patches():
    """p(s_{g,j} | ...) of large patch 0 is the same whatever large patch 1 holds, and large patch
    1's first conditional changes with large patch 0 (through the transformer)."""
    model = _model((2, 4), (2, 2), (1, 2), subsampler="rnn")
    tokens = tf.constant([[1, 2, 3, 0], [1, 2, 0, 3], [0, 2, 3, 0]])
    log_cond = model.conditionals(tokens)[0].numpy()
    np.testing.assert_allclose(log_cond[0, :2], log_cond[1, :2], atol=1e-6)
    assert not np.allclose(log_cond[0, 2], log_cond[2, 2])


def test_rnn_subsampler_width_mismatch_is_a_config_error():
    layout = hilbert.NestedPatchLayout((2, 4), (2, 2), (1, 2))
    with pytest.raises(ConfigError, match="sub_Nh must be equal to Nh=8"):
        LargePatchedTransformer(8, layout=layout, Nh=8, nhead=2, subsampler="rnn", sub_Nh=16)


def test_unknown_subsampler_is_a_config_error():
    layout = hilbert.NestedPatchLayout((2, 4), (2, 2), (1, 2))
    with pytest.raises(ConfigError, match="subsampler must be one of rnn, ptf"):
        LargePatchedTransformer(8, layout=layout, Nh=8, nhead=2, subsampler="lstm")


def test_layout_without_large_patches_is_a_config_error():
    with pytest.raises(ConfigError, match="layout must be a NestedPatchLayout"):
        LargePatchedTransformer(8, layout=hilbert.PatchLayout((2, 4), (2, 2)), Nh=8, nhead=2)
