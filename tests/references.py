"""Exact references shared by the tests: enumerate all 2^N configurations of a tiny system.

Every helper works over the basis of ``tfqsr.hilbert`` (``all_configurations`` row r has basis
index r, ``configurations_to_indices`` maps back) and in float64 / complex128, whatever the
precision of the model. A "model" is anything with ``n_sites`` and ``log_psi(x)`` (real or
complex) or ``log_prob(x)`` on int spins ``[batch, n_sites]``.
"""
import numpy as np
import scipy.stats
import tensorflow as tf

from tfqsr import exact, hilbert

# Bins whose expected count is below this are pooled into one (the chi-square approximation).
MIN_EXPECTED_COUNT = 5


def _basis(model):
    return tf.constant(hilbert.all_configurations(model.n_sites))


def exact_state(model):
    """The normalized state vector psi(x) = exp(log_psi(x)) of ``model``, complex128 [2^N]."""
    log_psi = np.asarray(model.log_psi(_basis(model))).astype(np.complex128)
    psi = np.exp(log_psi - np.max(log_psi.real))
    return psi / np.linalg.norm(psi)


def exact_variational_energy(model, operator):
    """<psi|H|psi> / <psi|psi> of ``model``'s state for the Operator ``operator`` (a float)."""
    return exact.expectation(operator, exact_state(model))


def exact_probabilities(model):
    """p(x) = exp(log_prob(x)) over all 2^N configurations, float64 [2^N], not renormalized
    (an autoregressive model's sum to one up to rounding)."""
    return np.exp(np.asarray(model.log_prob(_basis(model)), np.float64))


def sampler_p_value(samples, probabilities):
    """Chi-square p-value of spin samples [n, N] against exact ``probabilities`` [2^N].

    The probabilities are renormalized; the bins whose expected count is below
    ``MIN_EXPECTED_COUNT`` are pooled into one. A sample of probability zero gives 0.
    """
    samples = np.asarray(samples)
    probabilities = np.asarray(probabilities, np.float64)
    if samples.ndim != 2 or probabilities.shape != (2 ** samples.shape[1],):
        raise ValueError(f"samples {samples.shape} and probabilities {probabilities.shape} must be "
                         "[n, N] and [2^N]")
    counts = np.bincount(hilbert.configurations_to_indices(samples), minlength=probabilities.size)
    if np.any(counts[probabilities == 0]):
        return 0.0
    expected = len(samples) * probabilities / probabilities.sum()
    rare = expected < MIN_EXPECTED_COUNT
    observed, pooled = counts[~rare], expected[~rare]
    if np.sum(expected[rare]) > 0:
        observed = np.append(observed, counts[rare].sum())
        pooled = np.append(pooled, expected[rare].sum())
    return float(scipy.stats.chisquare(observed, pooled).pvalue)


def log_psi_gradients(model, x):
    """d log psi(x) / d theta over the trainable weights, numpy complex [n, P] (real part from
    Re log psi, imaginary from Im log psi): one ``tape.gradient`` per configuration, so that it
    is independent of the package's batched estimators."""
    @tf.function
    def gradient(config, imaginary):
        with tf.GradientTape() as tape:
            log_psi = tf.cast(model.log_psi(config[None])[0], tf.complex128)
            value = tf.math.imag(log_psi) if imaginary else tf.math.real(log_psi)
        grads = tape.gradient(value, model.trainable_variables,
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return tf.concat([tf.reshape(tf.cast(g, tf.float64), [-1]) for g in grads], 0)

    return np.array([gradient(c, False).numpy() + 1j * gradient(c, True).numpy() for c in np.asarray(x)])
