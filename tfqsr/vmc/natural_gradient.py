"""Natural-gradient optimization: stochastic reconfiguration (SR) and its minimal-step form (minSR).

Conventions. For samples x_k with weights w_k (sum_k w_k = 1 over all ranks: 1/n for n Monte
Carlo samples x_k ~ |psi|^2, |psi(x_k)|^2 for an enumerated basis) and real parameters theta
(every Keras variable is real) of a real or complex log psi:

    O_k(x)   = d log psi(x) / d theta_k                            (log-derivatives, [n, P])
    Obar     = O - sum_k w_k O(x_k)                                (centered)
    S        = Re sum_k w_k conj(Obar_k)^T Obar_k                  (quantum geometric tensor, [P, P])
    F        = Re sum_k w_k conj(Obar_k) (E_loc(x_k) - E)          (forces; dE/dtheta = 2 F)
    delta    = (S + lambda I)^-1 F,     theta <- theta - tau delta  (learning rate tau)

Both are products of one real "sample-space" factor. With X_k = sqrt(w_k) Obar_k and
eps_k = sqrt(w_k) (E_loc(x_k) - E), stack real and imaginary parts (only the real parts for a
real log psi, whose local energies are real):

    X_r = [Re X; Im X]   [m, P],      eps_r = [Re eps; Im eps]   [m],      m = 2n (or n)
    S = X_r^T X_r,       F = X_r^T eps_r.

SR solves (S + lambda I) delta = F in parameter space (P x P). minSR (Chen & Heyl 2023) solves
in sample space with T = X_r X_r^T (m x m):

    delta = X_r^T (T + lambda I)^-1 eps_r,

equal to the SR update by the push-through identity X^T (X X^T + lambda)^-1 = (X^T X + lambda)^-1 X^T,
and cheaper when P > m. The constant E drops out of F (sum_k w_k Obar_k = 0), so it is not an
argument here.

Precision. The factors and every product with them are float64, also for a float32 model: the
round-off of a float32 T (~1e-8 ||T||, unstructured) moves its small eigenvalues by more than
lambda, which changed the update by 0.2%, 2% and 17% at lambda = 1e-2, 1e-3, 1e-4 (TFIM N=20,
512 samples), against < 3e-5 from the float32 round-off of O itself (T stays a Gram matrix).

Solvers: "direct" factors A = T + lambda I (or S + lambda I) by Cholesky, falling back to
``eigh`` with clamped eigenvalues when A is not numerically positive definite (a tiny lambda);
its condition number is estimated from Rayleigh quotients after a few power iterations with A
and with A^-1 (a lower bound, within a few percent on SR matrices, whose small eigenvalues
cluster at lambda; exact after the ``eigh`` fallback). "cg" runs conjugate gradients on
matrix-vector products, never forming S for SR, and estimates the condition number from the
Lanczos tridiagonal matrix that its coefficients define. Both estimates are lower bounds.

Distributed (each rank holds its own samples, equal counts): sums over samples are sums over
ranks. SR allreduces S and F (direct) or each product S v (cg); minSR allgathers X_r and eps_r,
so every rank solves the same global m x m system and computes the same update.
"""
import tensorflow as tf

from tfqsr.vmc.methods import NATURAL_GRADIENT_METHODS as METHODS, SR_SOLVERS as SOLVERS

CONDITION_ITERATIONS = 20  # power iterations of each extreme eigenvalue in the direct solver


def log_derivatives(log_psi_fn, variables, x, chunk_size=64):
    """Per-sample log-derivatives O [n, P] = d log psi(x_k) / d theta, flattened over ``variables``.

    Each row is the gradient of log psi of one sample alone (a batch of one), vectorized over
    chunks of ``chunk_size`` samples with ``tf.vectorized_map`` and run chunk after chunk: memory
    grows with the chunk, work does not (a jacobian of a batch would repeat the backward pass
    of the whole chunk for each sample). XLA-compiled: 4-6x faster than a pfor jacobian of
    chunks, and the vectorized gradients crash TensorFlow's CPU graph executor without it.
    Call it inside a ``tf.function`` (it compiles once per trace). For a complex log psi the
    gradients of its real and imaginary parts are combined into a complex O. Returns the dtype
    of log psi (float32 / complex64 for a float32 model). Variables log psi does not depend on
    get zero columns.
    """
    def sample_gradient(sample):
        with tf.GradientTape(persistent=True) as tape:
            log_psi = log_psi_fn(sample[None])[0]
            parts = [tf.math.real(log_psi), tf.math.imag(log_psi)] if log_psi.dtype.is_complex else [log_psi]
        flat = [tf.concat([tf.reshape(tf.convert_to_tensor(g), [-1]) for g in tape.gradient(
                    part, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)], 0)
                for part in parts]
        return tf.complex(*flat) if log_psi.dtype.is_complex else flat[0]

    @tf.function(jit_compile=True)
    def chunked(x):
        n = tf.shape(x)[0]
        n_chunks = (n + chunk_size - 1) // chunk_size
        padded = tf.concat([x, tf.zeros([n_chunks * chunk_size - n, tf.shape(x)[1]], x.dtype)], axis=0)
        chunks = tf.reshape(padded, [n_chunks, chunk_size, -1])
        dtype = log_psi_fn(x[:1]).dtype  # real or complex
        o = tf.map_fn(lambda chunk: tf.vectorized_map(sample_gradient, chunk), chunks,
                      fn_output_signature=dtype, parallel_iterations=1)
        return tf.reshape(o, [n_chunks * chunk_size, -1])[:n]

    return chunked(tf.convert_to_tensor(x))


def _sum_over_ranks(tensors, distributed):
    if distributed is None or distributed.size == 1:
        return list(tensors)
    return [t * distributed.size for t in distributed.allreduce_mean(list(tensors))]


def sample_space_factors(o, local_energies, weights=None, distributed=None):
    """(X_r [m, P], eps_r [m]) in float64 (module docstring) from this rank's O [n, P] and E_loc [n].

    ``weights`` [n] sum to 1 over all ranks; None means uniform, 1 / (n * number of ranks).
    """
    o = tf.convert_to_tensor(o)
    o = tf.cast(o, tf.complex128 if o.dtype.is_complex else tf.float64)
    e_loc = tf.cast(local_energies, o.dtype)
    size = 1 if distributed is None else distributed.size
    if weights is None:
        weights = tf.fill([tf.shape(o)[0]], 1.0 / tf.cast(tf.shape(o)[0] * size, tf.float64))
    weights = tf.cast(weights, tf.float64)
    w = tf.cast(weights, o.dtype)
    mean_o, mean_e = _sum_over_ranks([tf.linalg.matvec(o, w, transpose_a=True),
                                      tf.reduce_sum(w * e_loc)], distributed)
    root = tf.cast(tf.sqrt(weights), o.dtype)
    x = root[:, None] * (o - mean_o[None])
    eps = root * (e_loc - mean_e)
    if o.dtype.is_complex:
        return (tf.concat([tf.math.real(x), tf.math.imag(x)], 0),
                tf.concat([tf.math.real(eps), tf.math.imag(eps)], 0))
    return x, eps


def conjugate_gradient(matvec, rhs, shift, *, tol=1e-10, max_iterations=1000):
    """Solve (A + shift I) y = rhs for symmetric positive semi-definite A given by ``matvec``.

    Stops when |residual| <= tol |rhs| or after ``max_iterations``. Returns (y, iterations,
    relative residual, condition estimate). The estimate is the ratio of the extreme eigenvalues
    of the Lanczos tridiagonal matrix built from the CG coefficients alpha_j, beta_j
    (diagonal 1/alpha_j + beta_{j-1}/alpha_{j-1}, off-diagonal sqrt(beta_j)/alpha_j): a lower
    bound of the condition number that sharpens with the iterations (NaN after none).
    """
    rhs_norm = tf.norm(rhs)

    def body(i, y, r, p, rr, alphas, betas):
        ap = matvec(p) + shift * p
        alpha = rr / tf.tensordot(p, ap, 1)
        y, r = y + alpha * p, r - alpha * ap
        rr_new = tf.tensordot(r, r, 1)
        beta = rr_new / rr
        return i + 1, y, r, r + beta * p, rr_new, alphas.write(i, alpha), betas.write(i, beta)

    def not_converged(i, y, r, p, rr, alphas, betas):
        return (i < max_iterations) & (tf.sqrt(rr) > tol * rhs_norm)

    arrays = [tf.TensorArray(rhs.dtype, size=0, dynamic_size=True, element_shape=[]) for _ in range(2)]
    i, y, _, _, rr, alphas, betas = tf.while_loop(
        not_converged, body, (0, tf.zeros_like(rhs), rhs, rhs, tf.tensordot(rhs, rhs, 1), *arrays))
    alphas, betas = alphas.stack(), betas.stack()
    previous = tf.concat([tf.zeros([1], rhs.dtype), betas[:-1] / alphas[:-1]], 0)[:i]
    tridiagonal = (tf.linalg.diag(1.0 / alphas + previous)
                   + tf.linalg.diag(tf.sqrt(betas[:-1]) / alphas[:-1], k=1)
                   + tf.linalg.diag(tf.sqrt(betas[:-1]) / alphas[:-1], k=-1))
    ritz = tf.linalg.eigvalsh(tridiagonal)
    condition = tf.where(i > 0, tf.reduce_max(ritz) / tf.reduce_min(ritz), tf.constant(float("nan"), rhs.dtype))
    relative_residual = tf.math.divide_no_nan(tf.sqrt(rr), rhs_norm)
    return y, i, relative_residual, condition


def _rayleigh_quotient_after_power_iterations(matrix, apply, iterations):
    """v^T A v / v^T v for A = ``matrix`` and v = apply^k(v0) / |...|, k = ``iterations``.

    With apply = A it approaches (from below) the largest eigenvalue of A, with apply = A^-1
    the smallest (from above); v0 is a fixed pseudo-random vector, so the result is reproducible.
    """
    v = tf.random.stateless_normal(tf.shape(matrix)[:1], seed=[0, 0], dtype=matrix.dtype)
    _, v = tf.while_loop(lambda i, v: i < iterations,
                         lambda i, v: (i + 1, tf.math.l2_normalize(apply(v))), (0, v))
    return tf.tensordot(v, tf.linalg.matvec(matrix, v), 1) / tf.tensordot(v, v, 1)


def _cholesky_solve(matrix, chol, rhs):
    """(y, condition estimate) for matrix y = rhs, ``chol`` the Cholesky factor of ``matrix``."""
    def solve(v):
        return tf.linalg.cholesky_solve(chol, v[:, None])[:, 0]

    largest = _rayleigh_quotient_after_power_iterations(
        matrix, lambda v: tf.linalg.matvec(matrix, v), CONDITION_ITERATIONS)
    smallest = _rayleigh_quotient_after_power_iterations(matrix, solve, CONDITION_ITERATIONS)
    return solve(rhs), largest / smallest


def _eigh_solve(matrix, rhs, shift):
    """(y, exact condition) for (matrix + shift I) y = rhs by ``eigh`` of the PSD ``matrix``."""
    values, vectors = tf.linalg.eigh(matrix)
    values = tf.maximum(values, 0.0) + shift  # round-off can leave tiny negative eigenvalues
    y = tf.linalg.matvec(vectors, tf.linalg.matvec(vectors, rhs, transpose_a=True) / values)
    return y, values[-1] / values[0]


def _direct_solve(matrix, rhs, shift):
    """(y, condition) with (matrix + shift I) y = rhs for the symmetric PSD ``matrix``.

    Cholesky when matrix + shift I is numerically positive definite, else ``eigh``.
    """
    shifted = matrix + shift * tf.eye(tf.shape(matrix)[0], dtype=matrix.dtype)
    chol = tf.linalg.cholesky(shifted)  # NaN when not positive definite
    return tf.cond(tf.reduce_all(tf.math.is_finite(chol)),
                   lambda: _cholesky_solve(shifted, chol, rhs),
                   lambda: _eigh_solve(matrix, rhs, shift))


def natural_gradient_direction(x_r, eps_r, *, method="minsr", diag_shift, solver="direct",
                               distributed=None, cg_tol=1e-10, cg_max_iterations=1000):
    """delta [P] = (S + lambda I)^-1 F from this rank's factors (see the module docstring).

    Returns (delta, info) with info["solve_condition"] (an estimate: see the module docstring)
    and, for "cg", info["cg_iterations"] and info["cg_residual"].
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    shift = tf.cast(diag_shift, tf.float64)
    if method == "minsr":
        if distributed is not None and distributed.size > 1:
            x_r, eps_r = distributed.allgather(x_r), distributed.allgather(eps_r)
        gram = tf.matmul(x_r, x_r, transpose_b=True)  # T [m, m]
        rhs = eps_r

        def matvec(v):
            return tf.linalg.matvec(gram, v)

        def back(y):
            return tf.linalg.matvec(x_r, y, transpose_a=True)
    else:
        gram = None  # S [P, P] is formed only by the direct solver
        rhs, = _sum_over_ranks([tf.linalg.matvec(x_r, eps_r, transpose_a=True)], distributed)  # F

        def matvec(v):  # S v = X_r^T (X_r v)
            return _sum_over_ranks(
                [tf.linalg.matvec(x_r, tf.linalg.matvec(x_r, v), transpose_a=True)], distributed)[0]

        def back(y):
            return y
    if solver == "direct":
        if gram is None:
            gram, = _sum_over_ranks([tf.matmul(x_r, x_r, transpose_a=True)], distributed)  # S [P, P]
        y, condition = _direct_solve(gram, rhs, shift)
        return back(y), {"solve_condition": condition}
    y, iterations, residual, condition = conjugate_gradient(
        matvec, rhs, shift, tol=cg_tol, max_iterations=cg_max_iterations)
    return back(y), {"solve_condition": condition, "cg_iterations": iterations, "cg_residual": residual}


class DiagonalShift:
    """lambda(step) = max(minimum, initial * decay^step), step = optimizer steps done (from 0)."""

    def __init__(self, initial, decay=1.0, minimum=0.0):
        if not initial > 0:
            raise ValueError(f"initial diagonal shift must be > 0, got {initial!r}")
        if not 0 < decay <= 1:
            raise ValueError(f"decay must lie in (0, 1], got {decay!r}")
        if not 0 <= minimum <= initial:
            raise ValueError(f"minimum must lie in [0, initial={initial}], got {minimum!r}")
        self.initial, self.decay, self.minimum = float(initial), float(decay), float(minimum)

    def __call__(self, step):
        decayed = self.initial * tf.pow(tf.constant(self.decay, tf.float64), tf.cast(step, tf.float64))
        return tf.maximum(tf.constant(self.minimum, tf.float64), decayed)


class NaturalGradient:
    """Preconditioner for ``VMCTrainer``: replaces the energy gradient by delta = (S + lambda I)^-1 F.

    Args:
      method: "sr" (parameter space) or "minsr" (sample space, for P > number of samples).
      diag_shift: lambda, a number or a ``DiagonalShift`` (any callable of the step).
      solver: "direct" (Cholesky) or "cg" (conjugate gradients).
      chunk_size: samples per vectorized chunk of per-sample gradients (``log_derivatives``).
      cg_tol, cg_max_iterations: stopping rule of "cg".

    Feed delta to ``keras.optimizers.SGD`` (theta <- theta - tau delta) so learning-rate
    schedules and checkpointed optimizer state work as for the plain gradient.
    """

    def __init__(self, method="minsr", *, diag_shift=1e-3, solver="direct", chunk_size=64,
                 cg_tol=1e-10, cg_max_iterations=1000):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
        self.method, self.solver, self.chunk_size = method, solver, int(chunk_size)
        self.diag_shift = diag_shift if callable(diag_shift) else DiagonalShift(diag_shift)
        self.cg_tol, self.cg_max_iterations = cg_tol, cg_max_iterations

    def __call__(self, model, x, local_energies, *, step, distributed=None):
        """(update directions, one per trainable variable, metrics dict) for this rank's samples."""
        variables = model.trainable_variables
        o = log_derivatives(model.log_psi, variables, x, self.chunk_size)
        x_r, eps_r = sample_space_factors(o, local_energies, distributed=distributed)
        shift = self.diag_shift(step)
        delta, info = natural_gradient_direction(
            x_r, eps_r, method=self.method, diag_shift=shift, solver=self.solver,
            distributed=distributed, cg_tol=self.cg_tol, cg_max_iterations=self.cg_max_iterations)
        sizes = [v.shape.num_elements() for v in variables]
        directions = [tf.cast(tf.reshape(d, v.shape), v.dtype)
                      for d, v in zip(tf.split(delta, sizes), variables)]
        return directions, {"diag_shift": shift, **info}
