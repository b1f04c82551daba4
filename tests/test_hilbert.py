"""Bit order, enumeration and token layouts of tfqsr.hilbert."""
import json
from functools import reduce

import numpy as np
import pytest
import tensorflow as tf

from tfqsr import hilbert


def test_basis_index_has_site_zero_as_most_significant_bit():
    x = np.array([[0, 0, 1], [1, 0, 0], [1, 1, 0]])
    np.testing.assert_array_equal(hilbert.configurations_to_indices(x), [1, 4, 6])
    assert hilbert.configurations_to_indices(x).dtype == np.int64


def test_basis_index_matches_kron_order():
    # |x_0 x_1 ... > = kron(e_{x_0}, e_{x_1}, ...) is the basis vector of index(x).
    for x in hilbert.all_configurations(4):
        vector = reduce(np.kron, [np.eye(2)[b] for b in x])
        assert np.argmax(vector) == hilbert.configurations_to_indices(x)


def test_all_configurations_row_r_has_index_r():
    configs = hilbert.all_configurations(5)
    assert configs.shape == (32, 5) and configs.dtype == np.int32
    np.testing.assert_array_equal(hilbert.configurations_to_indices(configs), np.arange(32))
    np.testing.assert_array_equal(configs[6], [0, 0, 1, 1, 0])


def test_indices_round_trip():
    indices = np.array([0, 5, 1023, 512])
    configs = hilbert.indices_to_configurations(indices, 10)
    np.testing.assert_array_equal(hilbert.configurations_to_indices(configs), indices)


def test_sector_configurations_are_sorted_with_fixed_number_down():
    configs = hilbert.sector_configurations(6, 2)
    assert configs.shape == (15, 6)
    np.testing.assert_array_equal(configs.sum(axis=1), 2)
    indices = hilbert.configurations_to_indices(configs)
    assert np.all(np.diff(indices) > 0)
    np.testing.assert_array_equal(indices, hilbert.sector_indices(6, 2))


@pytest.mark.parametrize("n_down", [-1, 7, 2.0, None])
def test_sector_rejects_bad_n_down(n_down):
    with pytest.raises(ValueError, match="n_down"):
        hilbert.sector_configurations(6, n_down)


def test_site_tensor_axis_i_is_site_i():
    psi = np.zeros(8)
    psi[hilbert.configurations_to_indices([0, 1, 1])] = 1.0
    assert hilbert.site_tensor(psi, 3)[0, 1, 1] == 1.0


def test_site_tensor_rejects_wrong_length():
    with pytest.raises(ValueError, match="psi"):
        hilbert.site_tensor(np.ones(6), 3)


def test_pauli_z_sign_convention():
    np.testing.assert_array_equal(hilbert.pauli_z([[0, 1]]).numpy(), [[1.0, -1.0]])


def test_word_tokens_hand_example():
    x = np.array([[0, 1, 1, 0, 1, 1, 1, 0]])
    np.testing.assert_array_equal(hilbert.WordLayout(8, 1).to_tokens(x).numpy(), x)
    np.testing.assert_array_equal(hilbert.WordLayout(8, 2).to_tokens(x).numpy(), [[1, 2, 3, 2]])
    np.testing.assert_array_equal(hilbert.WordLayout(8, 4).to_tokens(x).numpy(), [[6, 14]])


def test_patch_tokens_hand_example():
    """A 2x4 lattice (sites 0-3 on row 0, 4-7 on row 1) in 2x2 patches: patch 0 holds sites
    (0, 1, 4, 5), patch 1 sites (2, 3, 6, 7), top-left site most significant."""
    layout = hilbert.PatchLayout((2, 4), (2, 2))
    np.testing.assert_array_equal(layout.token_sites, [[0, 1, 4, 5], [2, 3, 6, 7]])
    x = np.array([[0, 1, 1, 0, 1, 0, 0, 1]])
    np.testing.assert_array_equal(layout.to_tokens(x).numpy(), [[0b0110, 0b1001]])
    assert layout.dictionary_size == 16 and layout.n_tokens == 2


def test_nested_patch_order():
    """2x2 patches inside 4x4 large patches of an 4x8 lattice: the four small patches of the left
    large patch come first, each in raster order inside its large patch."""
    layout = hilbert.NestedPatchLayout((4, 8), (4, 4), (2, 2))
    np.testing.assert_array_equal(layout.token_sites[:4], [[0, 1, 8, 9], [2, 3, 10, 11],
                                                           [16, 17, 24, 25], [18, 19, 26, 27]])
    np.testing.assert_array_equal(layout.token_sites[4], [4, 5, 12, 13])
    assert (layout.n_groups, layout.tokens_per_group, layout.n_tokens) == (2, 4, 8)


LAYOUTS = [hilbert.WordLayout(12, 1), hilbert.WordLayout(12, 3), hilbert.PatchLayout((3, 4), (1, 2)),
           hilbert.PatchLayout((4, 4), (2, 2)), hilbert.PatchLayout((2, 6), (2, 3)),
           hilbert.NestedPatchLayout((4, 4), (4, 4), (2, 2)), hilbert.NestedPatchLayout((4, 8), (4, 4), (2, 2)),
           hilbert.NestedPatchLayout((4, 4), (2, 4), (1, 2))]


@pytest.mark.parametrize("layout", LAYOUTS, ids=repr)
def test_site_token_maps_are_inverse(layout):
    x = np.random.default_rng(0).integers(0, 2, (64, layout.n_sites)).astype(np.int32)
    tokens = layout.to_tokens(x)
    assert tokens.dtype == tf.int32 and tokens.shape == (64, layout.n_tokens)
    np.testing.assert_array_equal(layout.to_spins(tokens).numpy(), x)
    all_tokens = np.random.default_rng(1).integers(0, layout.dictionary_size, (64, layout.n_tokens))
    np.testing.assert_array_equal(layout.to_tokens(layout.to_spins(all_tokens)).numpy(), all_tokens)
    np.testing.assert_array_equal(np.sort(layout.token_sites.ravel()), np.arange(layout.n_sites))
    for t, sites in enumerate(layout.token_sites):
        assert all(layout.token_of_site[s] == t for s in sites)


@pytest.mark.parametrize("layout", LAYOUTS, ids=repr)
def test_first_changed_token_is_exact_for_every_site(layout):
    """Flipping one site changes exactly the token that holds it, and no token before it."""
    x = np.zeros((1, layout.n_sites), np.int32)
    base = layout.to_tokens(x).numpy()[0]
    for site in range(layout.n_sites):
        flipped = x.copy()
        flipped[0, site] = 1
        changed = np.flatnonzero(layout.to_tokens(flipped).numpy()[0] != base)
        assert changed.tolist() == [layout.first_changed_token([site])]
    assert layout.first_changed_token([]) == layout.n_tokens


def test_first_changed_token_of_a_site_set_is_the_smallest_token_not_the_smallest_site():
    """2x2 patches of a 4-wide lattice: site 2 is in patch 1 and site 4 in patch 0, so flipping
    {2, 4} changes patch 0 although site 2 < 4 (the token of the smallest site would be 1)."""
    layout = hilbert.PatchLayout((4, 4), (2, 2))
    assert layout.token_of_site[2] == 1 and layout.token_of_site[4] == 0
    assert layout.first_changed_token([2, 4]) == 0
    assert layout.first_changed_tokens(((), (2,), (2, 4))) == (4, 1, 0)


@pytest.mark.parametrize("layout", LAYOUTS, ids=repr)
def test_layout_config_round_trip(layout):
    config = json.loads(json.dumps(layout.get_config()))
    assert hilbert.layout_from_config(config) == layout


def test_single_word_token_is_basis_index():
    x = hilbert.all_configurations(6)
    np.testing.assert_array_equal(hilbert.WordLayout(6, 6).to_tokens(x).numpy()[:, 0], np.arange(64))


@pytest.mark.parametrize("layout", [hilbert.WordLayout(6, 2), hilbert.PatchLayout((2, 4), (2, 2))], ids=repr)
def test_tokens_inside_tf_function_with_unknown_batch(layout):
    pack = tf.function(layout.to_tokens, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    unpack = tf.function(layout.to_spins, input_signature=[tf.TensorSpec([None, None], tf.int32)])
    x = tf.constant(hilbert.all_configurations(layout.n_sites))
    np.testing.assert_array_equal(unpack(pack(x)).numpy(), x.numpy())


@pytest.mark.parametrize("d,w", [(2, 1), (4, 2), (16, 4), (2**31, 31)])
def test_word_size(d, w):
    assert hilbert.word_size(d) == w


@pytest.mark.parametrize("d", [0, 1, 3, 6, -4, 2.0, True, 2**32, "4"])
def test_word_size_rejects_bad_dictionary_size(d):
    with pytest.raises(ValueError, match=r"dictionary_size must be a power of two >= 2"):
        hilbert.word_size(d)


def test_word_layout_rejects_indivisible():
    with pytest.raises(ValueError, match=r"n_sites must be divisible by the word size w=4"):
        hilbert.WordLayout(10, 4)


@pytest.mark.parametrize("w", [0, 32, 1.5])
def test_word_layout_rejects_bad_word_size(w):
    with pytest.raises(ValueError, match="word_size"):
        hilbert.WordLayout(4, w)


@pytest.mark.parametrize("args,match", [
    (((4, 6), (4, 4)), "patch must be a patch whose sides divide the lattice sides 4x6"),
    (((4, 4), (0, 2)), "patch must be a pair of integers >= 1"),
    (((4,), (2, 2)), "lattice must be a pair"),
])
def test_patch_layout_rejects_bad_shapes(args, match):
    with pytest.raises(ValueError, match=match):
        hilbert.PatchLayout(*args)


def test_nested_layout_rejects_small_patch_not_dividing_large():
    with pytest.raises(ValueError, match="small_patch must be a patch whose sides divide the lattice sides 4x4"):
        hilbert.NestedPatchLayout((8, 8), (4, 4), (3, 2))


def test_resolve_layout_rejects_disagreeing_dictionary_size():
    layout = hilbert.PatchLayout((2, 2), (2, 2))
    assert hilbert.resolve_layout(4, None, layout) is layout
    assert hilbert.resolve_layout(4, 4, None) == hilbert.WordLayout(4, 2)
    with pytest.raises(ValueError, match="dictionary_size must be None or the layout's 16"):
        hilbert.resolve_layout(4, 2, layout)
    with pytest.raises(ValueError, match="layout must be a layout of n_sites=8 sites"):
        hilbert.resolve_layout(8, None, layout)


def test_site_sets():
    masks = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]])
    assert hilbert.site_sets(masks) == ((), (1, 2), (0,), (2,))
