"""2D patch layouts through the model and every estimator that reuses prefixes.

With row-major sites and 2x2 patches on a 4-wide lattice, site 2 lies in patch 1 and site 4 in
patch 0: flipping {2, 4} changes patch 0 although the smaller site's patch is 1. The first
changed token must come from the layout (the smallest token among the changed sites), or the
conditionals of patch 1 would be taken from the unflipped configuration. Each estimator is
compared with the same estimator on plain full passes (``model.log_psi``, which has no
``log_psi_connected``), on the same samples, so they must agree to float rounding.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfqsr import hilbert, operators
from tfqsr.analysis import observables
from tfqsr.analysis.entropy import swap_estimator
from tfqsr.wavefunctions import TransformerWavefunction
from tests.wavefunctions.contract import perturb_weights

LAYOUT = hilbert.PatchLayout((4, 4), (2, 2))
FLIP = np.zeros(16, np.int32)
FLIP[[2, 4]] = 1


@pytest.fixture(scope="module")
def model_and_samples():
    keras.utils.set_random_seed(0)
    model = perturb_weights(TransformerWavefunction(16, layout=LAYOUT, num_layers=1, num_heads=2,
                                                    d_model=16, clip_distance=3, phase=True))
    return model, model.sample(64, [1, 2]).numpy()


def test_the_pinned_case_is_what_the_docstring_says():
    assert LAYOUT.token_of_site[2] == 1 and LAYOUT.token_of_site[4] == 0
    assert LAYOUT.first_changed_token([2, 4]) == 0


def test_log_psi_connected_recomputes_from_the_first_changed_patch(model_and_samples):
    model, x = model_and_samples
    columns = tf.constant(np.stack([x, x ^ FLIP], axis=1))
    expected = model.log_psi(x ^ FLIP).numpy()
    got = model.log_psi_connected(columns, ((), (2, 4))).numpy()[:, 1]
    np.testing.assert_allclose(got, expected, atol=2e-5)
    # The check has power: declaring only site 2 (patch 1) reuses the stale row of patch 1.
    wrong = model.log_psi_connected(columns, ((), (2,))).numpy()[:, 1]
    assert np.max(np.abs(wrong - expected)) > 1e-2


def test_flip_ratios(model_and_samples):
    model, x = model_and_samples
    flips = np.stack([FLIP, np.eye(16, dtype=np.int32)[4]])
    got = np.concatenate(list(observables.flip_ratios(model, x, flips)))
    expected = np.concatenate(list(observables.flip_ratios(model.log_psi, x, flips)))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_xx_correlations(model_and_samples):
    model, x = model_and_samples
    got = observables.xx_correlations(model, x, max_distance=2)
    expected = observables.xx_correlations(model.log_psi, x, max_distance=2)
    np.testing.assert_allclose(got.matrix.value, expected.matrix.value, rtol=1e-4, atol=1e-6)
    stratified = observables.xx_correlations(model, x, max_distance=2, pairs_per_distance=2, seed=3)
    reference = observables.xx_correlations(model.log_psi, x, max_distance=2, pairs_per_distance=2, seed=3)
    np.testing.assert_allclose(stratified.by_distance.value, reference.by_distance.value, rtol=1e-4)


def test_swap_estimator(model_and_samples):
    model, x = model_and_samples
    replicas = x.reshape(2, 32, 16)
    regions = np.stack([FLIP.astype(bool), np.arange(16) >= 6])
    got, _ = swap_estimator(model, replicas, regions)
    expected, _ = swap_estimator(model.log_psi, replicas, regions)
    np.testing.assert_allclose(got.value, expected.value, rtol=1e-4)


def test_local_energy_of_a_pair_across_patches(model_and_samples):
    model, x = model_and_samples
    hamiltonian = operators.PairInteraction(16, [[2, 4], [1, 8]], [0.5, -0.3], [1.0, 0.7])
    np.testing.assert_allclose(hamiltonian.local_energy(model, x).numpy(),
                               hamiltonian.local_energy(model.log_psi, x).numpy(), rtol=1e-4, atol=1e-6)
