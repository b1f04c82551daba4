"""Wavefunctions whose exact state vector is known, for testing estimators against tfqsr.exact."""
import numpy as np
import tensorflow as tf

from tfqsr import hilbert


class TabulatedWavefunction:
    """psi given as a vector over the basis of ``tfqsr.hilbert`` (need not be normalized).

    ``log_psi`` is complex64 when ``psi`` is complex or has negative entries (phase pi), float32
    otherwise; ``log_prob`` is log |psi|^2 (float32); ``sample`` draws exact samples of |psi|^2
    with a stateless seed.
    """

    def __init__(self, psi):
        psi = np.asarray(psi)
        self.n_sites = int(np.log2(psi.size))
        self.psi = psi / np.linalg.norm(psi)
        with np.errstate(divide="ignore"):
            log_abs = np.log(np.abs(self.psi))
        if np.iscomplexobj(psi) or np.any(psi.real < 0):
            self._table = tf.constant(log_abs + 1j * np.angle(self.psi), tf.complex64)
        else:
            self._table = tf.constant(log_abs, tf.float32)
        self._log_prob = tf.constant(2 * log_abs[None], tf.float32)

    def _index(self, x):
        weights = tf.bitwise.left_shift(1, tf.range(self.n_sites - 1, -1, -1))
        return tf.reduce_sum(tf.cast(x, tf.int32) * weights, axis=-1)

    def log_psi(self, x):
        return tf.gather(self._table, self._index(x))

    def log_prob(self, x):
        return tf.gather(self._log_prob[0], self._index(x))

    def sample(self, n, seed):
        index = tf.random.stateless_categorical(self._log_prob, n, seed)[0]
        return tf.constant(hilbert.indices_to_configurations(index.numpy(), self.n_sites))


def bell_pair(phase=0.0):
    """(|00> + e^{i phase} |11>) / sqrt(2)."""
    return np.array([1, 0, 0, np.exp(1j * phase)]) / np.sqrt(2)


def product_state(n_sites, seed=0):
    """A random real positive product state of ``n_sites`` spins."""
    rng = np.random.default_rng(seed)
    psi = np.ones(1)
    for _ in range(n_sites):
        psi = np.kron(psi, rng.uniform(0.2, 1.0, size=2))
    return psi
