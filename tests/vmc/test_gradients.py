"""The VMC energy gradient against finite differences of the exact variational energy."""
import numpy as np
import pytest
import tensorflow as tf

from tests.references import exact_variational_energy
from tfqsr import hilbert, operators
from tfqsr.vmc import energy_statistics, surrogate_loss
from tfqsr.wavefunctions import TransformerWavefunction


@pytest.mark.parametrize("operator,phase", [
    (operators.TransverseFieldIsing(4, h=0.7), False),
    (operators.HaldaneShastry(4), True),
    (operators.ModifiedHaldaneShastry(4), True),
], ids=["tfim-real", "hs-complex", "mhs-complex"])
def test_vmc_gradient_matches_finite_differences(float64, operator, phase):
    model = TransformerWavefunction(4, d_model=8, num_heads=2, num_layers=1, clip_distance=2, phase=phase)
    x = tf.constant(hilbert.all_configurations(4))
    weights = tf.exp(model.log_prob(x))
    e_loc = operator.local_energy(model.log_psi, x)
    energy = tf.reduce_sum(tf.cast(weights, tf.float64) * tf.math.real(tf.cast(e_loc, tf.complex128)))
    np.testing.assert_allclose(energy, exact_variational_energy(model, operator), rtol=1e-10)
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        loss = surrogate_loss(model.log_psi(x), e_loc, energy, weights=weights)
    grads = tape.gradient(loss, variables)

    rng = np.random.default_rng(0)
    for _ in range(3):
        direction = [rng.normal(size=v.shape) for v in variables]
        norm = np.sqrt(sum(np.sum(d ** 2) for d in direction))
        direction = [d / norm for d in direction]  # a unit step keeps the O(eps^2) error small
        analytic = sum(float(tf.reduce_sum(tf.convert_to_tensor(g) * d))
                       for g, d in zip(grads, direction) if g is not None)
        eps = 1e-6
        shifted = []
        for sign in (1, -1):
            for v, d in zip(variables, direction):
                v.assign_add(sign * eps * d)
            shifted.append(exact_variational_energy(model, operator))
            for v, d in zip(variables, direction):
                v.assign_sub(sign * eps * d)
        numeric = (shifted[0] - shifted[1]) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_energy_statistics_closed_form():
    e_loc = tf.constant([1.0, 2.0, 3.0, 6.0], tf.float64)
    energy, error, variance = energy_statistics(e_loc)
    assert float(energy) == 3.0 and float(variance) == 3.5
    np.testing.assert_allclose(error, np.sqrt(3.5 / 4))
