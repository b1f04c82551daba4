"""``--optimizer=lbfgs`` (``tfqsr.qrnn.lbfgs.LBFGS``), against independent references:

- the two-loop recursion equals the explicit BFGS inverse-Hessian update H <- (I - rho s y^T) H
  (I - rho y s^T) + rho s s^T from H_0 = (s.y / y.y) I, written as dense matrices;
- a whole run of steps, one per batch with up to 20 closure evaluations each, equals a numpy
  transcription of PyTorch's ``LBFGS.step(closure)`` (no line search) on batches of different
  quadratics: the parameters and the number of evaluations per step;
- on one quadratic it reaches the minimum scipy.optimize's L-BFGS-B finds;
- checkpointed between two steps and restored after its state was overwritten, it
  continues exactly (tests/qrnn/test_runs.py: a whole QRNN run resumed from a checkpoint);
- in ``tf.function`` it equals eager execution; a NaN loss leaves everything as it was.
"""
import numpy as np
import pytest
import scipy.optimize
import tensorflow as tf

from tfqsr.qrnn.lbfgs import LBFGS, two_loop

RNG = np.random.default_rng(2)
N = 12


def quadratic(seed):
    """(A, b) of the loss 0.5 x.A x - b.x (the batch ``seed``): A has eigenvalues 0.5..50 in
    random directions, so that 20 iterations do not reach the roundoff level, where stopping
    rules would compare numbers dominated by rounding."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(N, N)))
    return q @ np.diag(np.geomspace(0.5, 50, N)) @ q.T, rng.normal(size=N)


def loss_and_gradient(x, batch):
    a, b = batch
    return 0.5 * x @ a @ x - b @ x, a @ x - b


def torch_lbfgs(x, batches, lr=1.0, history_size=100, max_iter=20, tolerance_grad=1e-7,
                tolerance_change=1e-9):
    """Independent reference: PyTorch's ``LBFGS.step(closure)`` without line search, one call
    per batch, its state carried over; returns the parameters and evaluations after each."""
    max_eval = max_iter * 5 // 4
    state = dict(n_iter=0, d=None, t=None, old_dirs=[], old_stps=[], ro=[], h_diag=1.0,
                 prev_flat_grad=None, prev_loss=None)
    out = []
    for batch in batches:
        loss, g = loss_and_gradient(x, batch)
        evals = 1
        if np.abs(g).max() <= tolerance_grad:
            out.append((x.copy(), evals))
            continue
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                state.update(old_dirs=[], old_stps=[], ro=[], h_diag=1.0)
            else:
                y = g - state["prev_flat_grad"]
                s = state["d"] * state["t"]
                ys = y @ s
                if ys > 1e-10:
                    if len(state["old_dirs"]) == history_size:
                        for key in ("old_dirs", "old_stps", "ro"):
                            state[key].pop(0)
                    state["old_dirs"].append(y)
                    state["old_stps"].append(s)
                    state["ro"].append(1.0 / ys)
                    state["h_diag"] = ys / (y @ y)
                q, al = -g, [0.0] * len(state["old_dirs"])
                for i in range(len(state["old_dirs"]) - 1, -1, -1):
                    al[i] = (state["old_stps"][i] @ q) * state["ro"][i]
                    q = q - al[i] * state["old_dirs"][i]
                r = q * state["h_diag"]
                for i in range(len(state["old_dirs"])):
                    be = (state["old_dirs"][i] @ r) * state["ro"][i]
                    r = r + (al[i] - be) * state["old_stps"][i]
                d = r
            state["d"] = d
            state["prev_flat_grad"], state["prev_loss"] = g.copy(), loss
            prev_loss = loss
            t = min(1.0, 1.0 / np.abs(g).sum()) * lr if state["n_iter"] == 1 else lr
            state["t"] = t
            if g @ d > -tolerance_change:
                break
            x = x + t * d
            opt_cond = False
            if n_iter != max_iter:
                loss, g = loss_and_gradient(x, batch)
                evals += 1
                opt_cond = np.abs(g).max() <= tolerance_grad
            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if np.abs(t * d).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break
        out.append((x.copy(), evals))
    return out


class Problem:
    """Variables a [5] and b [7] (one vector x [12]) and an optimizer stepping on batches."""

    def __init__(self, optimizer, x=None, eager=False):
        x = np.zeros(N) if x is None else x
        self.a, self.b = tf.Variable(x[:5]), tf.Variable(x[5:])
        self.variables = [self.a, self.b]
        self.optimizer = optimizer
        optimizer.build(self.variables)
        self._minimize = self.minimize if eager else tf.function(self.minimize, autograph=False)

    @property
    def x(self):
        return np.concatenate([self.a.numpy(), self.b.numpy()])

    def closure(self, batch):
        a, b = (tf.convert_to_tensor(m) for m in batch)

        def evaluate():
            x = tf.concat(self.variables, 0)
            g = tf.linalg.matvec(a, x) - b
            return 0.5 * tf.tensordot(x, g - b, 1), [g[:5], g[5:]]
        return evaluate

    def minimize(self, a, b, scale):
        evaluate = self.closure((a, b))
        loss, grads = evaluate()

        def again():  # the re-evaluations, times ``scale`` (NaN: a diverging closure)
            loss, grads = evaluate()
            return scale * loss, [scale * g for g in grads]
        return self.optimizer.minimize(again, self.variables, loss, grads)

    def step(self, batch, scale=1.0):
        """(all evaluations finite, evaluations) of one optimizer step on ``batch``."""
        before = int(self.optimizer.func_evals.numpy())
        finite = self._minimize(*(tf.constant(m) for m in batch), tf.constant(scale, tf.float64))
        return bool(finite), int(self.optimizer.func_evals.numpy()) - before


BATCHES = [quadratic(seed) for seed in range(6)]


def test_two_loop_equals_dense_inverse_hessian_update():
    m, pairs = 4, []
    for _ in range(3):  # three pairs with positive curvature, one empty row
        s = RNG.normal(size=N)
        y = quadratic(9)[0] @ s
        pairs.append((s, y))
    s_hist = np.zeros((m, N))
    y_hist = np.zeros((m, N))
    rho = np.zeros(m)
    for i, (s, y) in enumerate(pairs, start=1):
        s_hist[i], y_hist[i], rho[i] = s, y, 1.0 / (s @ y)
    s, y = pairs[-1]
    gamma = (s @ y) / (y @ y)
    h = gamma * np.eye(N)
    for s_i, y_i in pairs:
        r = 1.0 / (s_i @ y_i)
        h = ((np.eye(N) - r * np.outer(s_i, y_i)) @ h @ (np.eye(N) - r * np.outer(y_i, s_i))
             + r * np.outer(s_i, s_i))
    g = RNG.normal(size=N)
    d = two_loop(tf.constant(g), tf.constant(s_hist), tf.constant(y_hist), tf.constant(rho),
                 tf.constant(gamma))
    np.testing.assert_allclose(d.numpy(), -h @ g, rtol=1e-10)


@pytest.mark.parametrize("options, evaluations", [
    pytest.param(dict(history_size=100), [20] * 6, marks=pytest.mark.slow),  # 120 pairs
    (dict(history_size=3, tolerance_change=1e-2), [11, 18, 15, 16, 2, 20]),  # early stops
], ids=["history100", "history3-tolerance"])
def test_steps_equal_pytorch_transcription(options, evaluations):
    problem = Problem(LBFGS(learning_rate=0.75, **options))
    expected = torch_lbfgs(np.zeros(N), BATCHES, lr=0.75, **options)
    assert [count for _, count in expected] == evaluations  # the reference's own path
    for batch, (x, count) in zip(BATCHES, expected):
        assert problem.step(batch) == (True, count)
        np.testing.assert_allclose(problem.x, x, rtol=1e-7, atol=1e-9)
    assert int(problem.optimizer.iterations.numpy()) == len(BATCHES)  # one step per batch


def test_reaches_the_minimum_scipy_finds():
    a, b = BATCHES[0]
    reference = scipy.optimize.minimize(lambda x: loss_and_gradient(x, (a, b)), np.ones(N),
                                        jac=True, method="L-BFGS-B",
                                        options={"gtol": 1e-12, "ftol": 1e-15})
    # tolerance_change 1e-9 on the loss would stop at |x - x*| ~ sqrt(2e-9 / lambda_min)
    problem = Problem(LBFGS(learning_rate=1.0, history_size=40, tolerance_change=1e-15),
                      x=np.ones(N))
    for _ in range(5):
        problem.step((a, b))
    np.testing.assert_allclose(problem.x, reference.x, atol=1e-6)
    np.testing.assert_allclose(problem.x, np.linalg.solve(a, b), atol=1e-6)


def test_checkpoint_between_steps_continues_exactly(tmp_path):
    problem = Problem(LBFGS(learning_rate=0.75, history_size=3))
    checkpoint = tf.train.Checkpoint(optimizer=problem.optimizer, a=problem.a, b=problem.b)
    for batch in BATCHES[:3]:
        problem.step(batch)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    straight = [problem.step(batch) for batch in BATCHES[3:]]
    x, evals = problem.x, int(problem.optimizer.func_evals.numpy())
    for variable in problem.optimizer.variables + problem.variables:  # forget everything
        variable.assign(tf.ones_like(variable))
    checkpoint.restore(path).assert_consumed()
    assert [problem.step(batch) for batch in BATCHES[3:]] == straight
    np.testing.assert_array_equal(problem.x, x)
    assert int(problem.optimizer.func_evals.numpy()) == evals


@pytest.mark.slow
def test_tf_function_equals_eager():
    eager = Problem(LBFGS(learning_rate=0.75, history_size=3), eager=True)
    graph = Problem(LBFGS(learning_rate=0.75, history_size=3))
    for batch in BATCHES[:2]:
        assert eager.step(batch) == graph.step(batch)
    np.testing.assert_allclose(graph.x, eager.x, rtol=1e-12)


def test_nan_loss_changes_nothing():
    problem = Problem(LBFGS(learning_rate=0.75, history_size=3))
    problem.step(BATCHES[0])
    x, evals = problem.x, int(problem.optimizer.func_evals.numpy())
    names = ("s", "y", "rho", "h_diag", "d", "t", "prev_grad", "prev_loss", "n_iter")
    state = {name: getattr(problem.optimizer, f"_{name}").numpy() for name in names}
    assert problem.step(BATCHES[1], scale=np.nan) == (False, 0)  # first re-evaluation NaN
    np.testing.assert_array_equal(problem.x, x)
    for name in names:
        np.testing.assert_array_equal(getattr(problem.optimizer, f"_{name}").numpy(), state[name],
                                      err_msg=name)
    assert int(problem.optimizer.func_evals.numpy()) == evals


def test_apply_gradients_is_a_single_iteration_step():
    problem = Problem(LBFGS(learning_rate=0.75, history_size=3))
    expected = torch_lbfgs(np.zeros(N), BATCHES[:4], lr=0.75, history_size=3, max_iter=1)
    assert problem.optimizer.max_iter == 20
    for batch, (x, _) in zip(BATCHES[:4], expected):
        _, grads = problem.closure(batch)()
        problem.optimizer.apply_gradients(zip(grads, problem.variables))
        np.testing.assert_allclose(problem.x, x, rtol=1e-9, atol=1e-12)
