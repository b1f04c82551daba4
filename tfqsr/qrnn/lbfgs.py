"""L-BFGS as a Keras optimizer, for ``--optimizer=lbfgs`` (the original's
``torch.optim.LBFGS(lr, history_size=40)`` without line search).

Every call to ``apply`` is one quasi-Newton step on all variables as one vector x with gradient
g: the pair (s, y) = (x - x_prev, g - g_prev) joins a history of the last ``history_size`` pairs
when its curvature s.y > 1e-10; the direction d = -H g comes from the two-loop recursion
(Nocedal & Wright, Algorithm 7.4) with H_0 = (s.y / y.y) I of the newest pair; the step is
x + t d with t = learning_rate, and t = min(1, 1/|g|_1) * learning_rate on the first step (as
PyTorch). PyTorch's optimizer repeats up to 20 such steps on one batch; here each batch (one
epoch) makes one step. The history, x_prev and g_prev are optimizer variables, so checkpoints
hold them.
"""
import keras
import numpy as np
import tensorflow as tf

CURVATURE = 1e-10


class LBFGS(keras.optimizers.Optimizer):
    """L-BFGS without line search (module docstring)."""

    def __init__(self, learning_rate=1.0, history_size=40, name="lbfgs", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.history_size = int(history_size)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        size = int(sum(np.prod(v.shape) for v in variables))
        m, dtype = self.history_size, variables[0].dtype
        self._s = self.add_variable((m, size), name="s", dtype=dtype)
        self._y = self.add_variable((m, size), name="y", dtype=dtype)
        self._rho = self.add_variable((m,), name="rho", dtype=dtype)
        self._x_prev = self.add_variable((size,), name="x_prev", dtype=dtype)
        self._g_prev = self.add_variable((size,), name="g_prev", dtype=dtype)

    def get_config(self):
        return {**super().get_config(), "history_size": self.history_size}

    def direction(self, g):
        """-H g by the two-loop recursion over the stored pairs (oldest first)."""
        s, y, rho = (tf.convert_to_tensor(v) for v in (self._s, self._y, self._rho))
        q, alphas = g, []
        for i in reversed(range(self.history_size)):
            alpha = rho[i] * tf.tensordot(s[i], q, 1)
            q -= alpha * y[i]
            alphas.append(alpha)
        newest = rho[-1] > 0
        gamma = tf.where(newest, tf.tensordot(s[-1], y[-1], 1) /
                         tf.maximum(tf.tensordot(y[-1], y[-1], 1), 1e-30), 1.0)
        r = gamma * q
        for i, alpha in zip(range(self.history_size), reversed(alphas)):
            beta = rho[i] * tf.tensordot(y[i], r, 1)
            r += s[i] * (alpha - beta)
        return -r

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        dtype = self._s.dtype
        g = tf.concat([tf.reshape(tf.cast(v, dtype), [-1]) for v in grads], 0)
        x = tf.concat([tf.reshape(tf.cast(v, dtype), [-1]) for v in trainable_variables], 0)
        first = tf.equal(self.iterations, 0)
        s, y = x - self._x_prev, g - self._g_prev
        curvature = tf.tensordot(s, y, 1)
        keep = tf.logical_and(tf.logical_not(first), curvature > CURVATURE)

        def push(history, row):
            return tf.where(keep, tf.concat([history[1:], row[None]], 0), history)
        self._s.assign(push(tf.convert_to_tensor(self._s), s))
        self._y.assign(push(tf.convert_to_tensor(self._y), y))
        self._rho.assign(push(tf.convert_to_tensor(self._rho),
                              1.0 / tf.maximum(curvature, CURVATURE)))
        rate = tf.cast(learning_rate, dtype)
        step = tf.where(first, tf.minimum(1.0, 1.0 / tf.reduce_sum(tf.abs(g))) * rate, rate)
        new = x + step * self.direction(g)
        self._x_prev.assign(x)
        self._g_prev.assign(g)
        start = 0
        for variable in trainable_variables:
            size = int(np.prod(variable.shape))
            variable.assign(tf.cast(tf.reshape(new[start:start + size], variable.shape),
                                    variable.dtype))
            start += size
