"""``--optimizer=lbfgs``: the Keras L-BFGS step equals a numpy two-loop recursion on a
quadratic, and converges to its minimum."""
import numpy as np
import tensorflow as tf

from tfqsr.qrnn.lbfgs import LBFGS

RNG = np.random.default_rng(2)
M = RNG.normal(size=(5, 5))
A = M @ M.T + 5 * np.eye(5)
B = RNG.normal(size=5)


def gradient(x):
    return A @ x - B


def numpy_lbfgs(x, steps, lr, m):
    """Independent reference: L-BFGS without line search (Nocedal & Wright, Alg. 7.4)."""
    history, x_prev, g_prev, out = [], None, None, []
    for k in range(steps):
        g = gradient(x)
        if k > 0:
            s, y = x - x_prev, g - g_prev
            if s @ y > 1e-10:
                history = (history + [(s, y)])[-m:]
        q, alphas = g.copy(), []
        for s, y in reversed(history):
            alpha = (s @ q) / (s @ y)
            q -= alpha * y
            alphas.append(alpha)
        r = q * ((history[-1][0] @ history[-1][1]) / (history[-1][1] @ history[-1][1])
                 if history else 1.0)
        for (s, y), alpha in zip(history, reversed(alphas)):
            r += s * (alpha - (y @ r) / (s @ y))
        t = min(1.0, 1.0 / np.abs(g).sum()) * lr if k == 0 else lr
        x_prev, g_prev = x, g
        x = x - t * r
        out.append(x)
    return out


def test_lbfgs_steps_equal_numpy_and_reach_the_minimum():
    a, b = tf.Variable(np.zeros(2)), tf.Variable(np.zeros(3))  # two variables, one vector
    optimizer = LBFGS(learning_rate=1.0, history_size=3)
    expected = numpy_lbfgs(np.zeros(5), 12, 1.0, 3)
    for step in range(12):
        g = gradient(np.concatenate([a.numpy(), b.numpy()]))
        optimizer.apply([tf.constant(g[:2]), tf.constant(g[2:])], [a, b])
        np.testing.assert_allclose(np.concatenate([a.numpy(), b.numpy()]), expected[step],
                                   rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([a.numpy(), b.numpy()]), np.linalg.solve(A, B),
                               atol=1e-6)
