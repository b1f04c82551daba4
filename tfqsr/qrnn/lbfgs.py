"""L-BFGS as a Keras optimizer, for ``--optimizer=lbfgs``: the original's
``torch.optim.LBFGS(params, lr, history_size=40)`` (no line search; ``max_iter`` 20,
``max_eval`` 25, ``tolerance_grad`` 1e-7, ``tolerance_change`` 1e-9, PyTorch's defaults).

One optimizer step per batch, as the original's ``optimizer.step(closure)``: ``minimize(closure,
variables, loss, grads)`` starts from the loss and gradient at the current point and makes up
to ``max_iter`` quasi-Newton iterations on the same batch, re-evaluating ``closure`` after each
(so up to ``max_iter`` evaluations in all). All variables form one vector x with gradient g.
Iteration k (counted over the optimizer's life):

- k = 1: d = -g, step t = min(1, 1/|g|_1) * learning_rate;
- else the pair (s, y) = (t d of the previous iteration, g - g of the previous iteration) joins
  a history of the last ``history_size`` pairs when s.y > 1e-10, and d = -H g by the two-loop
  recursion (Nocedal & Wright, Algorithm 7.4) with H_0 = (s.y / y.y) I of the newest pair;
  t = learning_rate. The first iteration of a step pairs the gradient of the new batch with
  the last one of the previous batch, as PyTorch does;
- stop without moving when g.d > -tolerance_change; else x <- x + t d, then stop after
  ``max_iter`` iterations (the last without an evaluation), after ``max_eval`` evaluations,
  when max |g| <= tolerance_grad, max |t d| <= tolerance_change or the loss changed by less
  than tolerance_change. A step whose first gradient has max |g| <= tolerance_grad does
  nothing.

The history, d, t, the previous gradient and loss and the iteration and evaluation counts are
optimizer variables, so checkpoints hold them and a resumed run continues exactly. A plain
``apply_gradients`` (no closure) is a step with ``max_iter`` 1. A non-finite loss or gradient
ends the step with the variables as they were before it and the optimizer state unchanged
(``minimize`` returns False).
"""
import keras
import numpy as np
import tensorflow as tf

CURVATURE = 1e-10


def _flat(tensors, dtype):
    return tf.concat([tf.reshape(tf.cast(t, dtype), [-1]) for t in tensors], 0)


def _assign_flat(variables, x):
    start = 0
    for variable in variables:
        size = int(np.prod(variable.shape))
        variable.assign(tf.cast(tf.reshape(x[start:start + size], variable.shape),
                                variable.dtype))
        start += size


def two_loop(g, s, y, rho, h_diag):
    """-H g by the two-loop recursion over the pairs (s[i], y[i]), oldest first; rows with
    rho 0 are empty (they change nothing). Loops in the graph (``tf.scan``), so its size does
    not grow with the history."""
    def backward(carry, row):
        q, _ = carry
        s_i, y_i, rho_i = row
        alpha = rho_i * tf.tensordot(s_i, q, 1)
        return q - alpha * y_i, alpha
    qs, alphas = tf.scan(backward, (s[::-1], y[::-1], rho[::-1]), (-g, tf.zeros_like(h_diag)))
    q, alphas = qs[-1], alphas[::-1]

    def forward(r, row):
        s_i, y_i, rho_i, alpha = row
        return r + s_i * (alpha - rho_i * tf.tensordot(y_i, r, 1))
    return tf.foldl(forward, (s, y, rho, alphas), h_diag * q)


class LBFGS(keras.optimizers.Optimizer):
    """L-BFGS without line search, one ``minimize`` per batch (module docstring)."""

    def __init__(self, learning_rate=1.0, history_size=100, max_iter=20, max_eval=None,
                 tolerance_grad=1e-7, tolerance_change=1e-9, name="lbfgs", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.history_size = int(history_size)
        self.max_iter = int(max_iter)
        self.max_eval = int(max_eval if max_eval is not None else self.max_iter * 5 // 4)
        self.tolerance_grad = float(tolerance_grad)
        self.tolerance_change = float(tolerance_change)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        size = int(sum(np.prod(v.shape) for v in variables))
        m, dtype = self.history_size, variables[0].dtype
        self._s = self.add_variable((m, size), name="s", dtype=dtype)
        self._y = self.add_variable((m, size), name="y", dtype=dtype)
        self._rho = self.add_variable((m,), name="rho", dtype=dtype)
        self._h_diag = self.add_variable((), name="h_diag", dtype=dtype, initializer="ones")
        self._d = self.add_variable((size,), name="d", dtype=dtype)
        self._t = self.add_variable((), name="t", dtype=dtype)
        self._prev_grad = self.add_variable((size,), name="prev_grad", dtype=dtype)
        self._prev_loss = self.add_variable((), name="prev_loss", dtype=dtype)
        self._n_iter = self.add_variable((), name="n_iter", dtype="int64")
        self._func_evals = self.add_variable((), name="func_evals", dtype="int64")

    def get_config(self):
        return {**super().get_config(), "history_size": self.history_size,
                "max_iter": self.max_iter, "max_eval": self.max_eval,
                "tolerance_grad": self.tolerance_grad, "tolerance_change": self.tolerance_change}

    @property
    def n_iter(self):
        """Quasi-Newton iterations so far (PyTorch's ``state['n_iter']``)."""
        return self._n_iter

    @property
    def func_evals(self):
        """Loss and gradient evaluations so far (PyTorch's ``state['func_evals']``)."""
        return self._func_evals

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        self._step(None, list(trainable_variables), tf.zeros((), self._s.dtype), grads, 1)

    def minimize(self, closure, variables, loss, grads):
        """One optimizer step on one batch (module docstring).

        Args:
          closure: () -> (loss, gradients of ``variables``) at the variables' current values,
            on the same batch (traced once inside the loop).
          variables: the variables this optimizer was built for, in the same order.
          loss, grads: the loss and gradients at the current values (the first evaluation).

        Returns a boolean tensor: every evaluation was finite (else nothing changed).
        """
        self.build(variables)
        finite = self._step(closure, list(variables), loss, grads, self.max_iter)
        self.iterations.assign_add(1)
        return finite

    def _step(self, closure, variables, loss, grads, max_iter):
        dtype = self._s.dtype
        lr = tf.cast(self.learning_rate, dtype)
        change, tolerance = tf.constant(self.tolerance_change, dtype), self.tolerance_grad
        x0 = _flat(variables, dtype)
        loss, g = tf.cast(loss, dtype), _flat(grads, dtype)

        def finite_all(loss, g):
            return tf.math.is_finite(loss) & tf.reduce_all(tf.math.is_finite(g))

        def move(step):
            _assign_flat(variables, _flat(variables, dtype) + step)
            return tf.no_op()

        def evaluate():
            new_loss, new_grads = closure()
            return tf.cast(new_loss, dtype), _flat(new_grads, dtype)

        state = dict(s=tf.convert_to_tensor(self._s), y=tf.convert_to_tensor(self._y),
                     rho=tf.convert_to_tensor(self._rho),
                     h_diag=tf.convert_to_tensor(self._h_diag), d=tf.convert_to_tensor(self._d),
                     t=tf.convert_to_tensor(self._t),
                     prev_grad=tf.convert_to_tensor(self._prev_grad),
                     prev_loss=tf.convert_to_tensor(self._prev_loss),
                     n_iter=tf.convert_to_tensor(self._n_iter))
        finite = finite_all(loss, g)
        # max |g| <= tolerance_grad at the start: the step does nothing.
        done = tf.logical_not(finite) | (tf.reduce_max(tf.abs(g)) <= tolerance)

        def body(n, evals, loss, g, done, finite, state):
            n, n_iter = n + 1, state["n_iter"] + 1
            first = tf.equal(n_iter, 1)
            y = g - state["prev_grad"]
            s = state["d"] * state["t"]
            ys = tf.tensordot(y, s, 1)
            keep = tf.logical_not(first) & (ys > CURVATURE)

            def push(history, row):
                pushed = tf.where(keep, tf.concat([history[1:], row[None]], 0), history)
                return tf.where(first, tf.zeros_like(history), pushed)
            hist_s, hist_y = push(state["s"], s), push(state["y"], y)
            rho = push(state["rho"], 1.0 / tf.where(keep, ys, 1.0))
            h_diag = tf.where(first, tf.ones_like(ys), tf.where(
                keep, ys / tf.where(keep, tf.tensordot(y, y, 1), 1.0), state["h_diag"]))
            d = tf.where(first, -g, two_loop(g, hist_s, hist_y, rho, h_diag))
            t = tf.where(first, tf.minimum(tf.ones_like(lr), 1.0 / tf.reduce_sum(tf.abs(g))) * lr,
                         lr)
            new_state = dict(s=hist_s, y=hist_y, rho=rho, h_diag=h_diag, d=d, t=t, prev_grad=g,
                             prev_loss=loss, n_iter=n_iter)
            descent = tf.tensordot(g, d, 1) <= -change
            with tf.control_dependencies([tf.cond(descent, lambda: move(t * d), tf.no_op)]):
                reevaluate = descent & (n < max_iter)
            if closure is None:
                new_loss, new_g = loss, g
            else:
                new_loss, new_g = tf.cond(reevaluate, evaluate, lambda: (loss, g))
            evals += tf.cast(reevaluate, evals.dtype)
            ok = finite_all(new_loss, new_g)
            stop = (tf.logical_not(descent) | (n >= max_iter) | (evals >= self.max_eval)
                    | tf.logical_not(ok)
                    | (reevaluate & (tf.reduce_max(tf.abs(new_g)) <= tolerance))
                    | (tf.reduce_max(tf.abs(t * d)) <= change)
                    | (tf.abs(new_loss - loss) < change))
            return n, evals, new_loss, new_g, stop, finite & ok, new_state

        _, evals, _, _, _, finite, state = tf.while_loop(
            lambda n, evals, loss, g, done, finite, state: tf.logical_not(done), body,
            (tf.constant(0), tf.constant(1, tf.int64), loss, g, done, finite, state))
        def keep_state():
            for name, value in state.items():
                getattr(self, f"_{name}").assign(value)
            self._func_evals.assign_add(evals)
            return tf.no_op()

        def restore():
            _assign_flat(variables, x0)
            return tf.no_op()
        with tf.control_dependencies([tf.cond(finite, keep_state, restore)]):
            return tf.identity(finite)
