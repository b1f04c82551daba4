"""Bit order, enumeration and token packing of tfqsr.hilbert."""
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


def test_tokens_hand_example():
    x = np.array([[0, 1, 1, 0, 1, 1, 1, 0]])
    np.testing.assert_array_equal(hilbert.spins_to_tokens(x, 1).numpy(), x)
    np.testing.assert_array_equal(hilbert.spins_to_tokens(x, 2).numpy(), [[1, 2, 3, 2]])
    np.testing.assert_array_equal(hilbert.spins_to_tokens(x, 4).numpy(), [[6, 14]])


@pytest.mark.parametrize("w", [1, 2, 4])
def test_tokens_round_trip(w):
    x = hilbert.all_configurations(8)
    tokens = hilbert.spins_to_tokens(x, w)
    assert tokens.dtype == tf.int32 and tokens.shape == (256, 8 // w)
    assert int(tf.reduce_max(tokens)) == 2**w - 1
    np.testing.assert_array_equal(hilbert.tokens_to_spins(tokens, w).numpy(), x)


def test_tokens_to_spins_inverts_on_all_tokens():
    tokens = np.stack(np.meshgrid(np.arange(4), np.arange(4)), -1).reshape(-1, 2)
    back = hilbert.spins_to_tokens(hilbert.tokens_to_spins(tokens, 2), 2)
    np.testing.assert_array_equal(back.numpy(), tokens)


def test_single_word_token_is_basis_index():
    x = hilbert.all_configurations(6)
    np.testing.assert_array_equal(hilbert.spins_to_tokens(x, 6).numpy()[:, 0], np.arange(64))


def test_tokens_inside_tf_function_with_unknown_shape():
    spec = tf.TensorSpec([None, None], tf.int32)
    pack = tf.function(lambda x: hilbert.spins_to_tokens(x, 2), input_signature=[spec])
    unpack = tf.function(lambda t: hilbert.tokens_to_spins(t, 2), input_signature=[spec])
    x = tf.constant(hilbert.all_configurations(6))
    np.testing.assert_array_equal(unpack(pack(x)).numpy(), x.numpy())


@pytest.mark.parametrize("d,w", [(2, 1), (4, 2), (16, 4), (2**31, 31)])
def test_word_size(d, w):
    assert hilbert.word_size(d) == w


@pytest.mark.parametrize("d", [0, 1, 3, 6, -4, 2.0, True, 2**32, "4"])
def test_word_size_rejects_bad_dictionary_size(d):
    with pytest.raises(ValueError, match=r"dictionary_size must be a power of two >= 2"):
        hilbert.word_size(d)


def test_check_n_sites_returns_number_of_tokens():
    assert hilbert.check_n_sites(12, 4) == 3


def test_check_n_sites_rejects_indivisible():
    with pytest.raises(ValueError, match=r"n_sites=10 .* w=4"):
        hilbert.check_n_sites(10, 4)


def test_spins_to_tokens_rejects_indivisible():
    with pytest.raises(ValueError, match="n_sites"):
        hilbert.spins_to_tokens(np.zeros((2, 6), np.int32), 4)


@pytest.mark.parametrize("w", [0, 32, 1.5])
def test_token_ops_reject_bad_word_size(w):
    with pytest.raises(ValueError, match="word_size"):
        hilbert.tokens_to_spins([[1]], w)


def test_first_set_sites():
    masks = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]])
    assert hilbert.first_set_sites(masks) == (3, 1, 0, 2)
