"""The large patched transformer (LPTF): the shared wavefunction contract with each subsampler,
on nested layouts of 3x3, 2x4 and 4x4 (2x2 small patches inside 4x4 and 2x4 large ones), and
its bad arguments."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.wavefunctions.contract import perturb_weights, run_large_lattice_test, run_wavefunction_test
from tfqsr import hilbert
from tfqsr.validation import ConfigError
from tfqsr.wavefunctions.large_patched import LargePatchedTransformer

SMALL = dict(Nh=8, nhead=2, num_layers=1, sub_nhead=2, sub_num_layers=1)


def _model(lattice, large, small, scale=0.3, **kwargs):
    """A small seeded model with random, far-from-uniform conditionals (``scale`` as in
    test_rnn)."""
    keras.utils.set_random_seed(0)
    layout = hilbert.NestedPatchLayout(lattice, large, small)
    return perturb_weights(LargePatchedTransformer(layout.n_sites, layout=layout, **SMALL, **kwargs), scale=scale)


def test_wavefunction_contract_rnn_subsampler_3x3():
    """Three large 1x3 patches of three single sites each."""
    run_wavefunction_test(_model((3, 3), (1, 3), (1, 1), subsampler="rnn", rnntype="elman"))


def test_wavefunction_contract_ptf_subsampler_2x4():
    """Two large 2x2 patches of two 1x2 small patches each."""
    run_wavefunction_test(_model((2, 4), (2, 2), (1, 2), subsampler="ptf"))


def test_large_lattice_contract_rnn_subsampler_4x4_in_4x4():
    run_large_lattice_test(_model((4, 4), (4, 4), (2, 2), scale=1.0, subsampler="rnn"), n_samples=10_000)


def test_large_lattice_contract_ptf_subsampler_2x4_in_4x4():
    run_large_lattice_test(_model((4, 4), (2, 4), (2, 2), scale=1.0, subsampler="ptf"), n_samples=10_000)


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
