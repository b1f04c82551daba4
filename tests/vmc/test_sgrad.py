"""sgrad: log psi for the gradient kept from the sampling pass (differentiated through the
decoders' caches) gives the gradient of a second, full pass over the same samples."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.wavefunctions.contract import perturb_weights
from tfqsr import hilbert
from tfqsr.layers.cache import slice_update
from tfqsr.operators import Rydberg
from tfqsr.operators.grouping import NeighbourGroups
from tfqsr.vmc.trainer import VMCTrainer
from tfqsr.wavefunctions import LargePatchedTransformer, PatchedTransformer, RNNWavefunction

MODELS = {
    "rnn": lambda: RNNWavefunction(8, layout=hilbert.PatchLayout((2, 4), (2, 2)), Nh=8),
    "ptf": lambda: PatchedTransformer(8, layout=hilbert.PatchLayout((2, 4), (1, 2)), Nh=8, nhead=2),
    "lptf": lambda: LargePatchedTransformer(8, layout=hilbert.NestedPatchLayout((2, 4), (2, 2), (1, 2)),
                                            Nh=8, nhead=2, sub_Nh=8),
}


def test_slice_update_gradient_equals_masked_arithmetic():
    table, rows = tf.random.normal([2, 5, 3], seed=1), tf.random.normal([2, 2, 3], seed=2)
    weights = tf.random.normal([2, 5, 3], seed=3)
    mask = tf.constant([0.0, 0.0, 1.0, 1.0, 0.0])[None, :, None]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([table, rows])
        got = tf.reduce_sum(weights * slice_update(table ** 2, (0, tf.constant(2), 0), rows ** 2))
        expected = tf.reduce_sum(weights * (table ** 2 * (1 - mask) + mask * tf.pad(rows ** 2, [[0, 0], [2, 1], [0, 0]])))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    for a, b in zip(tape.gradient(got, [table, rows]), tape.gradient(expected, [table, rows])):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["rnn", pytest.param("ptf", marks=pytest.mark.slow),
                                  pytest.param("lptf", marks=pytest.mark.slow)])  # XLA compiles: ~15 s each
def test_sgrad_gradient_equals_the_full_pass_gradient(name):
    """Same samples, same local energies: the gradient through the sampling pass equals the
    gradient of a differentiable full pass, to float rounding (1e-6 of the largest entry)."""
    keras.utils.set_random_seed(0)
    model = perturb_weights(MODELS[name]())
    hamiltonian = NeighbourGroups(Rydberg(2, 4), model.layout, model.n_tokens)
    trainer = VMCTrainer(model, hamiltonian, batch_size=32, minibatch_size=16, sgrad=True,
                         optimizer=keras.optimizers.SGD(0.1))
    grads, x, energy, *_ = tf.function(trainer.direction)(tf.constant([5, 6]))
    expected = trainer.gradients(x, hamiltonian.local_energy(model, x), energy)
    scale = max(float(tf.reduce_max(tf.abs(g))) for g in expected)
    assert scale > 1e-2
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * scale)


def test_sgrad_samples_are_exact_and_their_log_psi_is_log_psi():
    model = perturb_weights(MODELS["rnn"]())
    x, log_psi = model.sample_with_log_psi(64, tf.constant([1, 2]))
    np.testing.assert_allclose(log_psi, model.log_psi(x), atol=1e-6)


def test_sgrad_with_a_preconditioner_is_refused():
    with pytest.raises(ValueError, match="sgrad applies to the plain gradient"):
        VMCTrainer(MODELS["rnn"](), Rydberg(2, 4), batch_size=8, sgrad=True, preconditioner=object(),
                   optimizer=keras.optimizers.SGD(0.1))
