"""Monte Carlo estimators of VMC.

With exact (autoregressive) samples x_k ~ |psi|^2, k = 1..n, and local energies
E_loc(x) = (H psi)(x) / psi(x):

    E          = mean_k Re E_loc(x_k)
    Var E_loc  = mean_k |E_loc(x_k) - E|^2,        standard error of E = sqrt(Var / n)

(no autocorrelation correction: the samples are independent). The energy gradient with
respect to real parameters theta, with O(x) = d log psi(x) / d theta, is

    dE/dtheta = 2 Re mean_k [ conj(O(x_k)) (E_loc(x_k) - E) ]
              = d/dtheta of 2 mean_k [ (Re E_loc - E) Re log psi + (Im E_loc) Im log psi ]

with the local energies held constant; subtracting E (the mean) leaves the expectation
unchanged and reduces the variance. ``surrogate_loss`` is that expression.
"""
import tensorflow as tf


def energy_statistics(local_energies, distributed=None):
    """(energy, standard error, variance) of local energies [n] over all ranks.

    ``distributed`` (a ``tfqsr.runtime.distributed.Distributed``) averages over ranks, each
    holding the same number of samples; None means one process.
    """
    mean = distributed.allreduce_mean if distributed else (lambda values: values)
    size = distributed.size if distributed else 1
    e_loc = tf.cast(local_energies, tf.complex128)
    energy, = mean([tf.reduce_mean(tf.math.real(e_loc))])
    variance, = mean([tf.reduce_mean(tf.abs(e_loc - tf.cast(energy, tf.complex128)) ** 2)])
    n_total = tf.cast(tf.size(e_loc) * size, tf.float64)
    return energy, tf.sqrt(variance / n_total), variance


def surrogate_loss(log_psi, local_energies, energy, weights=None):
    """Scalar whose gradient (local energies constant) is the VMC energy gradient above.

    ``weights`` (summing to one) replace the sample mean by a weighted sum, e.g. |psi(x)|^2 over
    all configurations for an exact expectation in tests; None is the Monte Carlo mean.
    """
    real = log_psi.dtype.real_dtype
    e_loc = tf.stop_gradient(tf.cast(local_energies, tf.complex128))
    terms = tf.cast(tf.math.real(e_loc) - energy, real) * tf.math.real(log_psi)
    if log_psi.dtype.is_complex:
        terms += tf.cast(tf.math.imag(e_loc), real) * tf.math.imag(log_psi)
    if weights is None:
        return 2.0 * tf.reduce_mean(terms)
    return 2.0 * tf.reduce_sum(tf.cast(weights, real) * terms)
