"""NLOOPS: neighbour groups change how local energies are evaluated, never their values."""
import numpy as np
import pytest
import tensorflow as tf

from tfqsr import hilbert, validation
from tfqsr.operators import Rydberg
from tfqsr.operators.grouping import NeighbourGroups, grouped_changed_sites
from tfqsr.vmc.sampling import minibatch_samples
from tfqsr.wavefunctions import TransformerWavefunction

LAYOUT = hilbert.PatchLayout((4, 4), (2, 2))


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(5)
    return TransformerWavefunction(16, layout=LAYOUT, num_layers=1, num_heads=2, d_model=8)


@pytest.mark.parametrize("n_groups", [1, 2, 4])
def test_groups_start_at_block_boundaries(n_groups):
    sites = grouped_changed_sites(Rydberg(4, 4).changed_sites, LAYOUT, n_groups)
    starts = LAYOUT.first_changed_tokens(sites)
    assert starts[0] == LAYOUT.n_tokens  # the diagonal changes nothing
    assert sorted(set(starts[1:])) == list(range(0, 4, 4 // n_groups))
    # every flipped site is still declared
    assert all(m - 1 in s for m, s in enumerate(sites) if m)


@pytest.mark.parametrize("n_groups", [1, 2, 4])
def test_local_energies_do_not_depend_on_the_groups(model, n_groups):
    op = Rydberg(4, 4)
    x = model.sample(32, tf.constant([1, 2]))
    expected = op.local_energy(lambda c: model.log_psi(c), x).numpy()  # full passes
    grouped = NeighbourGroups(op, LAYOUT, n_groups)
    np.testing.assert_allclose(grouped.local_energy(model, x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert grouped.qmc_energy_per_atom() == op.qmc_energy_per_atom()


def test_groups_must_divide_the_tokens():
    with pytest.raises(validation.ConfigError, match="NLOOPS must be a divisor of the number of tokens 4"):
        NeighbourGroups(Rydberg(4, 4), LAYOUT, 3)


def test_minibatches_are_the_calls_of_k_samples(model):
    seed = tf.constant([3, 4])
    x = minibatch_samples(model, 12, 4, seed)
    parts = [model.sample(4, tf.random.experimental.stateless_fold_in(seed, q)) for q in range(3)]
    np.testing.assert_array_equal(x.numpy(), np.concatenate([p.numpy() for p in parts]))
    np.testing.assert_array_equal(minibatch_samples(model, 12, None, seed).numpy(), model.sample(12, seed).numpy())
