"""Operator matrices against independent Kronecker-product constructions; sectors; validation."""
import numpy as np
import pytest
import tensorflow as tf

from tests.operators.pauli_reference import pauli_sum
from tfqsr import hilbert
from tfqsr.operators import (
    HaldaneShastry,
    Heisenberg,
    ModifiedHaldaneShastry,
    Operator,
    PairInteraction,
    TransverseFieldIsing,
)


def lattice_neighbours(lx, ly, pbc):
    """Distinct nearest-neighbour pairs of an lx x ly grid, site x * ly + y."""
    pairs = set()
    for x in range(lx):
        for y in range(ly):
            for dx, dy in ((1, 0), (0, 1), (-1, 0), (0, -1)):
                nx, ny = x + dx, y + dy
                if pbc:
                    nx, ny = nx % lx, ny % ly
                if 0 <= nx < lx and 0 <= ny < ly and (nx, ny) != (x, y):
                    pairs.add(frozenset((x * ly + y, nx * ly + ny)))
    return [tuple(p) for p in pairs]


def tfim_reference(n, h, J, pairs):
    terms = [(-J, {i: "Z", j: "Z"}) for i, j in pairs] + [(-h, {i: "X"}) for i in range(n)]
    return pauli_sum(n, terms)


def xxz_reference(n, pairs, j_zz, j_xy):
    terms = []
    for (i, j), jz, jx in zip(pairs, j_zz, j_xy):
        terms += [(jz, {i: "Z", j: "Z"}), (jx, {i: "X", j: "X"}), (jx, {i: "Y", j: "Y"})]
    return pauli_sum(n, terms)


def chord_inverse_square(n, i, j):
    return 1.0 / ((n / np.pi) * np.sin(np.pi * abs(i - j) / n)) ** 2


N = 6
ALL_PAIRS = [(i, j) for i in range(N) for j in range(i + 1, N)]
OPEN_CHAIN = [(i, i + 1) for i in range(N - 1)]
RING = OPEN_CHAIN + [(N - 1, 0)]

CASES = {
    "tfim_open": (
        TransverseFieldIsing(N, h=0.7, J=1.3),
        tfim_reference(N, 0.7, 1.3, OPEN_CHAIN),
    ),
    "tfim_pbc": (
        TransverseFieldIsing(N, h=-1.1, J=-0.4, pbc=True),
        tfim_reference(N, -1.1, -0.4, RING),
    ),
    "tfim_square_2x3_open": (
        TransverseFieldIsing(N, h=0.9, J=1.0, shape=(2, 3)),
        tfim_reference(N, 0.9, 1.0, lattice_neighbours(2, 3, pbc=False)),
    ),
    "tfim_square_2x3_pbc": (
        TransverseFieldIsing(N, h=0.9, J=1.0, pbc=True, shape=(2, 3)),
        tfim_reference(N, 0.9, 1.0, lattice_neighbours(2, 3, pbc=True)),
    ),
    "heisenberg_open": (
        Heisenberg(N, J=0.8, pbc=False),
        xxz_reference(N, OPEN_CHAIN, [0.8] * 5, [0.8] * 5),
    ),
    "heisenberg_pbc": (
        Heisenberg(N, J=1.0),
        xxz_reference(N, RING, [1.0] * 6, [1.0] * 6),
    ),
    "haldane_shastry": (
        HaldaneShastry(N),
        xxz_reference(
            N, ALL_PAIRS, [chord_inverse_square(N, i, j) for i, j in ALL_PAIRS],
            [chord_inverse_square(N, i, j) for i, j in ALL_PAIRS],
        ),
    ),
    "modified_haldane_shastry": (
        ModifiedHaldaneShastry(N),
        xxz_reference(
            N, ALL_PAIRS, [chord_inverse_square(N, i, j) for i, j in ALL_PAIRS],
            [-chord_inverse_square(N, i, j) for i, j in ALL_PAIRS],
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_to_dense_equals_kron_construction(case):
    op, reference = CASES[case]
    np.testing.assert_allclose(reference.imag, 0.0, atol=1e-14)
    dense = op.to_dense()
    assert dense.dtype == np.float64
    np.testing.assert_allclose(dense, reference.real, atol=1e-12)


def test_square_lattice_2x3_bond_counts():
    # Open: 3 vertical + 4 horizontal bonds; periodic adds the 2 wraps of length-3 rows only.
    assert len(TransverseFieldIsing(6, shape=(2, 3)).bonds) == 7
    assert len(TransverseFieldIsing(6, shape=(2, 3), pbc=True).bonds) == 9


@pytest.mark.parametrize("case", sorted(CASES))
def test_connected_contract(case):
    op, _ = CASES[case]
    x = tf.constant(hilbert.all_configurations(N))
    x_conn, mels = op.connected(x)
    assert x_conn.dtype == tf.int32 and mels.dtype == tf.float64
    assert x_conn.shape == (2**N, op.max_conn, N) and mels.shape == (2**N, op.max_conn)
    np.testing.assert_array_equal(x_conn[:, 0].numpy(), x.numpy())
    padded = mels.numpy() == 0
    np.testing.assert_array_equal(
        x_conn.numpy()[padded], np.broadcast_to(x.numpy()[:, None], x_conn.shape)[padded]
    )


def test_connected_in_tf_function_with_unknown_batch():
    op = HaldaneShastry(N)
    fn = tf.function(op.connected, input_signature=[tf.TensorSpec([None, N], tf.int32)])
    x = hilbert.all_configurations(N)[:5]
    for got, expected in zip(fn(x), op.connected(x)):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_max_conn_per_operator():
    assert TransverseFieldIsing(7).max_conn == 8
    assert TransverseFieldIsing(7, h=0.0).max_conn == 1
    assert HaldaneShastry(7).max_conn == 1 + 21
    assert Heisenberg(7, pbc=False).max_conn == 7


def test_zero_field_tfim_is_diagonal():
    dense = TransverseFieldIsing(5, h=0.0, J=1.0).to_dense()
    np.testing.assert_array_equal(dense, np.diag(np.diag(dense)))


def test_periodic_chain_of_two_sites_has_one_bond():
    np.testing.assert_array_equal(
        TransverseFieldIsing(2, pbc=True).to_dense(), TransverseFieldIsing(2).to_dense()
    )
    np.testing.assert_array_equal(Heisenberg(2, pbc=True).to_dense(), Heisenberg(2, pbc=False).to_dense())


@pytest.mark.parametrize(
    "op", [Heisenberg(8), HaldaneShastry(8), ModifiedHaldaneShastry(8)], ids=repr
)
def test_sector_matrix_is_block_of_full_matrix(op):
    full = op.to_sparse().toarray()
    for n_down in range(9):
        block = op.to_sparse(n_down=n_down).toarray()
        index = hilbert.sector_indices(8, n_down)
        np.testing.assert_array_equal(block, full[np.ix_(index, index)])


def test_sectors_cover_the_full_matrix():
    op = HaldaneShastry(6)
    full = op.to_dense()
    total = sum(
        np.abs(full[np.ix_(idx, idx)]).sum() for idx in (hilbert.sector_indices(6, k) for k in range(7))
    )
    assert total == pytest.approx(np.abs(full).sum())


class DoubledFlip(Operator):
    """2 X_0, written as two identical connected entries with element 1 each."""

    def __init__(self):
        super().__init__(n_sites=3, max_conn=3)

    def connected(self, x):
        x = tf.convert_to_tensor(x)
        flipped = tf.bitwise.bitwise_xor(x, [1, 0, 0])
        batch = tf.shape(x)[0]
        mels = tf.concat([tf.zeros([batch, 1], tf.float64), tf.ones([batch, 2], tf.float64)], axis=1)
        return tf.stack([x, flipped, flipped], axis=1), mels


def test_to_sparse_sums_duplicate_entries():
    np.testing.assert_array_equal(DoubledFlip().to_dense(), 2 * pauli_sum(3, [(1.0, {0: "X"})]).real)
    assert DoubledFlip().to_sparse().nnz == 8


def test_sector_requires_conserving_operator():
    with pytest.raises(ValueError, match="conserves magnetization"):
        TransverseFieldIsing(4).to_sparse(n_down=2)


def test_conserves_magnetization_flags():
    assert not TransverseFieldIsing(4).conserves_magnetization
    assert Heisenberg(4).conserves_magnetization
    assert HaldaneShastry(4).conserves_magnetization
    assert ModifiedHaldaneShastry(4).conserves_magnetization


def test_names_and_reprs():
    assert TransverseFieldIsing(4).name == "tfim"
    assert Heisenberg(4).name == "heisenberg"
    assert HaldaneShastry(4).name == "haldane_shastry"
    assert ModifiedHaldaneShastry(4).name == "modified_haldane_shastry"
    assert repr(TransverseFieldIsing(6, h=0.5, pbc=True, shape=(2, 3))) == (
        "TransverseFieldIsing(n_sites=6, h=0.5, J=1.0, pbc=True, shape=(2, 3))"
    )
    assert repr(Heisenberg(4, J=2)) == "Heisenberg(n_sites=4, J=2.0, pbc=True)"
    assert repr(HaldaneShastry(4)) == "HaldaneShastry(n_sites=4)"
    assert repr(ModifiedHaldaneShastry(4)) == "ModifiedHaldaneShastry(n_sites=4)"


@pytest.mark.parametrize("cls", [TransverseFieldIsing, Heisenberg, HaldaneShastry, ModifiedHaldaneShastry])
@pytest.mark.parametrize("n_sites", [1, 0, 4.0, True])
def test_constructors_reject_bad_n_sites(cls, n_sites):
    with pytest.raises(ValueError, match="n_sites must be an integer >= 2"):
        cls(n_sites)


@pytest.mark.parametrize("shape", [(2, 2), (1, 6), (6,), (2, 3, 1), (2.0, 3), 6])
def test_tfim_rejects_bad_shape(shape):
    with pytest.raises(ValueError, match="shape"):
        TransverseFieldIsing(6, shape=shape)


@pytest.mark.parametrize("kwargs", [{"h": float("nan")}, {"J": float("inf")}, {"h": "1"}, {"J": 1j}])
def test_tfim_rejects_bad_couplings(kwargs):
    with pytest.raises(ValueError, match="finite real"):
        TransverseFieldIsing(4, **kwargs)


@pytest.mark.parametrize(
    "pairs,message",
    [([(0, 0)], "distinct sites"), ([(0, 4)], "distinct sites"), ([(0, 1), (1, 0)], "repeat"), ([], "empty")],
)
def test_pair_interaction_rejects_bad_pairs(pairs, message):
    with pytest.raises(ValueError, match=message):
        PairInteraction(4, pairs=pairs, j_zz=[1.0] * len(pairs), j_xy=[1.0] * len(pairs))


def test_pair_interaction_rejects_mismatched_couplings():
    with pytest.raises(ValueError, match="one coupling per pair"):
        PairInteraction(4, pairs=[(0, 1), (1, 2)], j_zz=[1.0], j_xy=[1.0, 1.0])


def test_connected_rejects_wrong_number_of_sites():
    with pytest.raises(ValueError, match="n_sites=4"):
        TransverseFieldIsing(4).connected(np.zeros((2, 5), np.int32))
