"""Operator.local_energy against (H psi)(x) / psi(x) from the dense matrix, on every
configuration of 8 spins."""
import numpy as np
import pytest
import tensorflow as tf

from tfqsr import hilbert
from tfqsr.operators import HaldaneShastry, Heisenberg, ModifiedHaldaneShastry, TransverseFieldIsing

N = 8
OPERATORS = {
    "tfim_open": TransverseFieldIsing(N, h=0.7, J=1.3),
    "tfim_pbc": TransverseFieldIsing(N, h=1.0, pbc=True),
    "tfim_square_2x4_pbc": TransverseFieldIsing(N, h=0.5, pbc=True, shape=(2, 4)),
    "heisenberg_open": Heisenberg(N, pbc=False),
    "heisenberg_pbc": Heisenberg(N, J=-0.6),
    "haldane_shastry": HaldaneShastry(N),
    "modified_haldane_shastry": ModifiedHaldaneShastry(N),
}


def random_log_psi(kind, seed=0):
    rng = np.random.default_rng(seed)
    log_psi = 0.5 * rng.standard_normal(2**N)
    if kind == "complex":
        log_psi = log_psi + 1j * rng.uniform(-np.pi, np.pi, 2**N)
    return log_psi


def lookup(table):
    """log_psi_fn that gathers from a table by the basis index computed in TF."""
    table = tf.constant(table)

    def log_psi_fn(x):
        return tf.gather(table, hilbert.WordLayout(N, N).to_tokens(x)[:, 0])

    return log_psi_fn


@pytest.mark.parametrize("kind", ["real", "complex"])
@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_local_energy_equals_dense_ratio(name, kind):
    op = OPERATORS[name]
    log_psi = random_log_psi(kind)
    psi = np.exp(log_psi)
    expected = (op.to_dense() @ psi) / psi
    log_psi_fn = lookup(log_psi)
    x = tf.constant(hilbert.all_configurations(N))
    compiled = tf.function(op.local_energy)
    for chunk_size in (None, 7):
        for run in (op.local_energy, compiled):
            got = run(log_psi_fn, x, chunk_size=chunk_size)
            assert got.dtype == (tf.complex128 if kind == "complex" else tf.float64)
            assert got.shape == (2**N,)
            np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)


def recording_log_psi():
    """A lookup log psi that records the batch size of every call."""
    calls, log_psi_fn = [], lookup(random_log_psi("real"))

    def recording(x):
        calls.append(x.shape[0])
        return log_psi_fn(x)
    return calls, recording


def test_log_psi_fn_is_called_once_on_all_connected_configurations():
    op = OPERATORS["haldane_shastry"]
    calls, recording = recording_log_psi()

    op.local_energy(recording, hilbert.all_configurations(N)[:10])
    assert calls == [10 * op.max_conn]


def test_chunks_call_log_psi_fn_on_chunk_times_max_conn():
    op = OPERATORS["tfim_open"]
    calls, recording = recording_log_psi()

    got = op.local_energy(recording, hilbert.all_configurations(N)[:10], chunk_size=4)
    assert got.shape == (10,)
    # Eager: the first chunk outside the loop, then two more inside it (10 padded to 12).
    assert calls == [4 * op.max_conn] * 3


def test_single_precision_model_gives_double_precision_energies():
    op = OPERATORS["tfim_pbc"]
    log_psi = random_log_psi("complex")
    expected = op.local_energy(lookup(log_psi), hilbert.all_configurations(N))
    got = op.local_energy(lookup(log_psi.astype(np.complex64)), hilbert.all_configurations(N))
    assert got.dtype == tf.complex128
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)


def test_chunk_larger_than_batch():
    op = OPERATORS["heisenberg_open"]
    log_psi_fn = lookup(random_log_psi("real"))
    x = hilbert.all_configurations(N)[:3]
    np.testing.assert_allclose(
        op.local_energy(log_psi_fn, x, chunk_size=100).numpy(), op.local_energy(log_psi_fn, x).numpy()
    )


@pytest.mark.parametrize("chunk_size", [0, -3, 2.5, True])
def test_local_energy_rejects_bad_chunk_size(chunk_size):
    op = OPERATORS["tfim_open"]
    with pytest.raises(ValueError, match="chunk_size"):
        op.local_energy(lookup(random_log_psi("real")), hilbert.all_configurations(N)[:4], chunk_size=chunk_size)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_changed_sites_are_exactly_where_connected_configurations_differ(name):
    op = OPERATORS[name]
    x = hilbert.all_configurations(N)
    x_conn = op.connected(x)[0].numpy()
    assert len(op.changed_sites) == op.max_conn and op.changed_sites[0] == ()
    allowed = np.zeros((op.max_conn, N), bool)
    for m, sites in enumerate(op.changed_sites):
        allowed[m, list(sites)] = True
    differs = (x_conn != x[:, None]).any(axis=0)  # [M, N] over all configurations
    assert not np.any(differs & ~allowed), "a column changes a site it does not declare"
    # Exact for these operators' fixed flip patterns: every declared site does change somewhere.
    np.testing.assert_array_equal(differs, allowed)


@pytest.mark.parametrize("name", ["tfim_open", "haldane_shastry"])
def test_local_energy_of_a_wavefunction_reuses_prefixes_with_the_same_result(name):
    import keras
    from tfqsr.wavefunctions import TransformerWavefunction
    keras.utils.set_random_seed(0)
    model = TransformerWavefunction(N, dictionary_size=4, phase=True, clip_distance=2, d_model=8)
    op = OPERATORS[name]
    x = hilbert.all_configurations(N)[::3]
    expected = op.local_energy(model.log_psi, x).numpy()
    np.testing.assert_allclose(op.local_energy(model, x).numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(op.local_energy(model, x, chunk_size=16).numpy(), expected,
                               rtol=1e-4, atol=1e-4)
