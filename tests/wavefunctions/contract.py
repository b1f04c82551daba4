"""The contract every autoregressive wavefunction keeps, checked against exact enumeration.

``run_wavefunction_test(model)`` is what keras-hub's ``run_layer_test`` is for layers: every
model in ``tfqsr.wavefunctions`` calls it with its own small configurations (at most about 12
sites, so that all 2^N configurations can be enumerated). It checks, each phase on its own:

* normalization: sum_x exp(log_prob(x)) = 1 over all configurations, and log psi = log p / 2
  (+ i phi);
* sampling: cached and uncached samplers draw the same samples for the same seed, and a
  chi-square test of ``n_samples`` samples against |psi|^2 (p-value above 1e-4; the same test
  with another model's probabilities must fail, so the check has power);
* shared-prefix evaluation: ``log_psi_connected`` equals full passes for every single flip,
  pairs of flips whose first changed token is not the token of their smallest site, and
  swapped tails, with the site sets mapped through the model's token layout;
* local energies: ``operator.local_energy(model, x)`` equals (H psi)(x) / psi(x) from the dense
  H for each of the given operators;
* serialization: a fresh instance from ``get_config`` (with the weights copied) gives equal
  outputs; ``.keras`` save/load and the SavedModel export (signatures ``log_psi``, ``sample``)
  give equal log psi and samples;
* training: one optimizer step on a loss that touches the amplitude and the phase changes
  every trainable weight.
"""
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tests.references import exact_probabilities, exact_state, sampler_p_value
from tfqsr import hilbert, operators
from tfqsr.runtime.export import export_wavefunction

MAX_SITES = 12


def perturb_weights(model, scale=0.3, seed=7):
    """Add seeded Gaussian noise to every trainable weight: random, far-from-uniform
    conditionals make the sampler and prefix-reuse checks sharp. The noise of a weight is seeded
    by its position in ``model.trainable_variables``, never by its name: Keras numbers unnamed
    layers by how many were built before in the process, which would make a test's model
    depend on the tests run before it. Returns ``model``."""
    for index, variable in enumerate(model.trainable_variables):
        noise = tf.random.stateless_normal(variable.shape, [seed, index], dtype=variable.dtype)
        variable.assign(variable + scale * noise)
    return model


def default_operators(n_sites, seed=0):
    """A transverse-field Ising chain (single flips) and an XXZ model on all pairs with random
    couplings (pair flips, including pairs that straddle tokens)."""
    rng = np.random.default_rng(seed)
    pairs = np.array([(i, j) for i in range(n_sites) for j in range(i + 1, n_sites)])
    return [operators.TransverseFieldIsing(n_sites, h=0.7),
            operators.PairInteraction(n_sites, pairs, rng.normal(size=len(pairs)), rng.normal(size=len(pairs)))]


def run_wavefunction_test(model, *, hamiltonians=None, n_samples=20_000, seed=(3, 4), atol=2e-5):
    """Run every phase of the contract on ``model`` (an AutoregressiveWavefunction)."""
    assert model.n_sites <= MAX_SITES, "the contract enumerates all 2^N configurations"
    check_normalization(model)
    check_sampling(model, n_samples, seed)
    check_log_psi_connected(model, n_samples, atol)
    for hamiltonian in hamiltonians or default_operators(model.n_sites):
        check_local_energy(model, hamiltonian)
    check_config_round_trip(model)
    check_saved_round_trips(model, n_samples)
    check_training_step_changes_every_weight(model)


MAX_LARGE_SITES = 16


def run_large_lattice_test(model, *, n_samples=20_000, seed=(3, 4), atol=2e-5):
    """The phases that cost one batched pass over all 2^N configurations, for lattices up to
    ``MAX_LARGE_SITES`` (4x4): normalization, cached against uncached and chi-square sampling,
    ``log_psi_connected`` against full passes and the config round trip. Local energies
    against the dense H (2^N x M evaluations), the saved-model round trips and the training
    step run in ``run_wavefunction_test`` on the small lattices of the same model class."""
    assert model.n_sites <= MAX_LARGE_SITES, "the contract enumerates all 2^N configurations"
    check_normalization(model)
    check_sampling(model, n_samples, seed)
    check_log_psi_connected(model, n_samples, atol)
    check_config_round_trip(model)


def _basis(model):
    return tf.constant(hilbert.all_configurations(model.n_sites))


def check_normalization(model):
    x = _basis(model)
    np.testing.assert_allclose(exact_probabilities(model).sum(), 1.0, atol=1e-5)
    log_psi = np.asarray(model.log_psi(x))
    np.testing.assert_allclose(log_psi.real, 0.5 * np.asarray(model.log_prob(x)), atol=1e-5)
    assert np.iscomplexobj(log_psi) == model.phase


def check_sampling(model, n_samples, seed):
    samples = model.sample(n_samples, seed).numpy()
    assert samples.dtype == np.int32 and samples.shape == (n_samples, model.n_sites)
    np.testing.assert_array_equal(samples, model.sample_uncached(n_samples, seed).numpy())
    probabilities = exact_probabilities(model)
    p_value = sampler_p_value(samples, probabilities)
    assert p_value > 1e-4, f"samples do not follow |psi|^2: chi-square p = {p_value:.2e}"
    # Power: the same samples against a visibly different distribution are rejected.
    skewed = probabilities * np.exp(np.linspace(-1.0, 1.0, probabilities.size))
    assert sampler_p_value(samples, skewed) < 1e-6


def connected_test_columns(model, x):
    """Columns (configurations [B, M, N], site sets) for ``log_psi_connected``: x itself, every
    single flip, every pair whose first changed token is earlier than the token of its smaller
    site (none for chains), the pair (0, N-1), and the tail from the middle token's first site
    on swapped with another sample's."""
    layout, n = model.layout, model.n_sites
    sets = [()] + [(i,) for i in range(n)]
    sets += [(i, j) for i in range(n) for j in range(i + 1, n)
             if layout.token_of_site[j] < layout.token_of_site[i]]
    sets.append((0, n - 1))
    masks = np.zeros((len(sets), n), np.int32)
    for m, sites in enumerate(sets):
        masks[m, list(sites)] = 1
    columns = x[:, None] ^ masks[None]
    tail = layout.token_sites[layout.n_tokens // 2:].ravel()
    swapped = x.copy()
    swapped[:, tail] = np.roll(x, 1, axis=0)[:, tail]
    columns = np.concatenate([columns, swapped[:, None]], axis=1)
    return columns, tuple(sets) + (tuple(sorted(tail.tolist())),)


def check_log_psi_connected(model, n_samples, atol):
    x = model.sample(n_samples, [5, 6]).numpy()[:16]
    columns, sets = connected_test_columns(model, x)
    got = np.asarray(model.log_psi_connected(tf.constant(columns), sets))
    expected = np.asarray(model.log_psi(columns.reshape(-1, model.n_sites))).reshape(got.shape)
    np.testing.assert_allclose(got, expected, atol=atol)


def check_local_energy(model, hamiltonian):
    """E_loc(x) = (H psi)(x) / psi(x) with the dense H, at every configuration of positive
    probability; local_energy goes through log_psi_connected."""
    psi = exact_state(model)
    x = hilbert.all_configurations(model.n_sites)
    expected = (hamiltonian.to_sparse() @ psi) / psi
    got = np.asarray(hamiltonian.local_energy(model, x, chunk_size=64))
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(got, expected if model.phase else expected.real, atol=1e-4 * scale)


def _equal_outputs(a, b, x, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a.log_psi(x)), np.asarray(b.log_psi(x)), atol=atol)


def check_config_round_trip(model):
    config = model.get_config()
    fresh = type(model).from_config(config)
    assert fresh.get_config() == config
    assert fresh.layout == model.layout
    assert len(fresh.weights) == len(model.weights)
    fresh.set_weights(model.get_weights())
    _equal_outputs(fresh, model, _basis(model))


def check_saved_round_trips(model, n_samples):
    """Equal log psi and samples after ``.keras`` save/load and from the SavedModel export
    (sampling ``n_samples``, the count the other phases compiled for)."""
    x = _basis(model)
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    _equal_outputs(loaded, model, x)

    export = export_wavefunction(model, os.path.join(directory, "export"))
    served = tf.saved_model.load(export)
    np.testing.assert_allclose(served.signatures["log_psi"](x=x)["log_psi"].numpy(),
                               np.asarray(model.log_psi(x)), atol=1e-5)
    drawn = served.signatures["sample"](n=tf.constant(n_samples), seed=tf.constant([1, 2]))["x"]
    np.testing.assert_array_equal(drawn.numpy(), model.sample(n_samples, [1, 2]).numpy())


def check_training_step_changes_every_weight(model):
    """One Adam step on a loss of log|psi| and the phase (random per-configuration weights)
    changes every trainable variable."""
    x = _basis(model)
    weights = tf.random.stateless_normal([2, x.shape[0]], [9, 9])
    before = [np.array(v) for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        log_psi = model.log_psi(x)
        loss = tf.reduce_mean(weights[0] * tf.math.real(log_psi) + weights[1] * tf.math.imag(log_psi))
    grads = tape.gradient(loss, model.trainable_variables)
    missing = [v.path for v, g in zip(model.trainable_variables, grads) if g is None]
    assert not missing, f"no gradient for {missing}"
    keras.optimizers.Adam(1e-2).apply_gradients(zip(grads, model.trainable_variables))
    unchanged = [v.path for b, v in zip(before, model.trainable_variables) if np.array_equal(b, np.array(v))]
    assert not unchanged, f"weights not changed by a training step: {unchanged}"
    for variable, value in zip(model.trainable_variables, before):
        variable.assign(value)  # leave the model as it was
