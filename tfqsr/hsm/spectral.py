"""The operator algebra of Hilbert space models: Hermitian operators from their parameters,
Pauli-string bases, and the state of an error Hamiltonian with an exact, finite gradient.

Error Hamiltonian of a data point x ∈ R^K with Hermitian d×d input operators A_k:

    H(x) = ½ Σ_k (A_k − x_k I)² = ½ Σ_k A_k² − Σ_k x_k A_k + ½|x|² I,

built for a whole batch as one ``[B, d, d]`` tensor (the d×d matrix ½ΣA_k² once, then one
contraction with x): memory O(B·d²), one batched ``eigh``.

State of H = V Λ V† (eigenvalues λ_0 ≤ λ_1 ≤ …, columns of V the eigenvectors):

- ground state (β = None): ρ = |ψ_0⟩⟨ψ_0|, energy E = λ_0;
- thermal state at inverse temperature β: ρ = e^{−βH}/Z = V diag(p) V† with the Boltzmann
  weights p_i = e^{−βλ_i}/Σ_j e^{−βλ_j}, energy the free energy E = −(1/β) log Σ_i e^{−βλ_i}.
  As β → ∞, ρ tends to the ground state and E to λ_0 (for a non-degenerate λ_0).

In both cases ∂E/∂H = ρ (Hellmann–Feynman), and ρ = V diag(p) V† has the Daleckii–Krein
derivative, written in the eigenbasis (M = V† dH V):

    (V† dρ V)_ij = Γ_ij M_ij + δ_ij β p_i Σ_k p_k M_kk,       Γ_ij = (p_i − p_j)/(λ_i − λ_j),

the second term only for the thermal state (the change of Z). TensorFlow's own ``eigh``
gradient divides by λ_i − λ_j and is infinite at a degenerate spectrum; here

- thermal: Γ_ij = −β max(p_i, p_j) φ(−β|λ_i − λ_j|), φ(z) = (e^z − 1)/z, φ(0) = 1: the exact
  divided difference, finite at any degeneracy (Γ_ii = −β p_i);
- ground state: Γ_ij = (p_i − p_j)(λ_i − λ_j)/((λ_i − λ_j)² + ε²) with p = (1, 0, …, 0): the
  exact 1/(λ_0 − λ_j), broadened by ε (energy units) so that an exactly degenerate ground
  state (where ρ is not differentiable) gives a zero, finite contribution instead of inf/NaN.

The backward pass applies the same (self-adjoint) map to the gradient of ρ, so it holds for
real symmetric and complex Hermitian H alike.
"""
import itertools
import math

import numpy as np
import tensorflow as tf


def as_dtype(values, dtype):
    """``values`` (real) in ``dtype``; a complex dtype gets a zero imaginary part through
    ``tf.complex``, whose gradient is the real part (``tf.cast``'s would warn)."""
    if dtype.is_complex:
        values = tf.cast(values, dtype.real_dtype)
        return tf.complex(values, tf.zeros_like(values))
    return tf.cast(values, dtype)


def hermitian_from_parts(diags, trius, complex_dtype=None):
    """Hermitian matrices ``[K, d, d]`` from diagonals ``[K, d]`` and strictly upper triangles
    ``[K, d(d−1)/2]`` (real) or ``[K, d(d−1)/2, 2]`` (real and imaginary parts, when
    ``complex_dtype`` is given): A = diag(D) + U + U†, U[i, j] = trius[i<j in row-major order]."""
    d = diags.shape[-1]
    rows, cols = np.triu_indices(d, 1)
    index = np.zeros((d, d), np.int32)  # position + 1 in trius; 0 picks the padding zero
    index[rows, cols] = np.arange(1, len(rows) + 1)
    if complex_dtype is not None:
        trius = tf.complex(trius[..., 0], trius[..., 1])
        diags = as_dtype(diags, complex_dtype)
    padded = tf.concat([tf.zeros_like(trius[:, :1]), trius], axis=1)
    upper = tf.gather(padded, index, axis=1)  # [K, d, d]
    return tf.linalg.set_diag(upper + tf.linalg.adjoint(upper), diags)


def error_hamiltonians(operators, x, shift=0.0):
    """H(x) = ½ Σ_k (A_k − x_k I)² + shift·I for every row of ``x`` ``[B, K]``: ``[B, d, d]``.

    ``operators``: ``[K, d, d]`` Hermitian A_k (real or complex)."""
    d = operators.shape[-1]
    half_square = 0.5 * tf.einsum("kij,kjl->il", operators, operators)
    x = as_dtype(x, operators.dtype)
    linear = tf.einsum("bk,kij->bij", x, operators)
    constant = 0.5 * tf.reduce_sum(x * x, axis=-1) + tf.cast(shift, operators.dtype)
    return half_square[None] - linear + constant[:, None, None] * tf.eye(d, dtype=operators.dtype)


def expectations(rho, operators):
    """Tr(ρ_b B_j) for states ``[B, d, d]`` and Hermitian ``[J, d, d]``: real ``[B, J]``."""
    return tf.math.real(tf.einsum("bil,jli->bj", rho, operators))


def _divided_differences(eigenvalues, weights, beta, eps):
    """Γ_ij of the module docstring, real ``[B, d, d]``."""
    gap = eigenvalues[..., :, None] - eigenvalues[..., None, :]
    if beta is None:
        return (weights[..., :, None] - weights[..., None, :]) * gap / (gap * gap + eps * eps)
    z = -beta * tf.abs(gap)
    safe = tf.where(z == 0, -tf.ones_like(z), z)
    phi = tf.where(z == 0, tf.ones_like(z), tf.math.expm1(safe) / safe)
    return -beta * tf.maximum(weights[..., :, None], weights[..., None, :]) * phi


def spectral_state(hamiltonians, beta=None, eps=1e-8):
    """(ρ ``[B, d, d]``, E ``[B]``) of Hermitian ``hamiltonians`` ``[B, d, d]``: the ground state
    (``beta=None``) or the thermal state at inverse temperature ``beta`` and its energy (the
    ground energy, or the free energy); gradient as in the module docstring, ``eps`` the
    broadening of the ground-state divided differences. Rows whose H is not finite get NaN
    (and a zero gradient) instead of an eigensolver error."""
    real_dtype = hamiltonians.dtype.real_dtype

    @tf.custom_gradient
    def state(h):
        # A non-finite H (weights overflowed) would make eigh raise: decompose I instead and
        # return NaN, so that the trainer's NaN guard stops the run with its message.
        finite = tf.reduce_all(tf.math.is_finite(tf.abs(h)), axis=[-2, -1])
        h = tf.where(finite[..., None, None], h, tf.eye(tf.shape(h)[-1], dtype=h.dtype))
        eigenvalues, vectors = tf.linalg.eigh(h)
        eigenvalues = tf.math.real(eigenvalues)  # complex dtype for complex h
        if beta is None:
            weights = tf.one_hot(tf.zeros(tf.shape(h)[:-2], tf.int32), tf.shape(h)[-1],
                                 dtype=real_dtype)
            energy = eigenvalues[..., 0]
        else:
            weights = tf.nn.softmax(-beta * eigenvalues, axis=-1)
            energy = -tf.reduce_logsumexp(-beta * eigenvalues, axis=-1) / beta
        rho = tf.matmul(vectors * tf.cast(weights[..., None, :], h.dtype), vectors, adjoint_b=True)
        nan = tf.constant(np.nan, real_dtype)
        rho = tf.where(finite[..., None, None], rho, tf.cast(nan, h.dtype))
        energy = tf.where(finite, energy, nan)

        def grad(rho_bar, energy_bar):
            gamma = _divided_differences(eigenvalues, weights, beta, eps)
            inner = tf.matmul(tf.matmul(vectors, rho_bar, adjoint_a=True), vectors)
            inner_bar = tf.cast(gamma, h.dtype) * inner
            if beta is not None:
                trace = tf.reduce_sum(weights * tf.math.real(tf.linalg.diag_part(inner)), axis=-1)
                inner_bar += tf.cast(tf.linalg.diag(beta * weights * trace[..., None]), h.dtype)
            h_bar = tf.matmul(tf.matmul(vectors, inner_bar), vectors, adjoint_b=True)
            return h_bar + tf.cast(energy_bar[..., None, None], h.dtype) * rho

        return (rho, energy), grad

    return state(hamiltonians)


# --- Pauli strings -----------------------------------------------------------------------------

def pauli_term_count(qubits, weight=None):
    """Pauli strings on ``qubits`` qubits with at most ``weight`` non-identity factors, identity
    included: Σ_{j=0}^{w} C(n, j)·3^j (4^n for ``weight=None``)."""
    weight = qubits if weight is None else weight
    return sum(math.comb(qubits, j) * 3 ** j for j in range(weight + 1))


def pauli_strings(qubits, weight=None):
    """The Pauli strings of ``pauli_term_count``, as int8 ``[T, n]`` codes (0 = I, 1 = X, 2 = Y,
    3 = Z; qubit 0 first), ordered by weight, then lexicographically."""
    weight = qubits if weight is None else weight
    codes = np.array(list(itertools.product(range(4), repeat=qubits)), np.int8).reshape(-1, qubits)
    weights = np.count_nonzero(codes, axis=1)
    order = np.argsort(weights, kind="stable")
    return codes[order][weights[order] <= weight]


def pauli_sparse_basis(codes):
    """The matrices of the Pauli strings ``codes`` ``[T, n]`` as the nonzeros of a sparse
    ``[d², T]`` matrix (d = 2^n, row i·d + j for the element (i, j); qubit 0 the most significant
    bit, numpy.kron order): each string P = i^{#Y} X^x Z^z has one nonzero per column,
    P|b⟩ = i^{#Y} (−1)^{|b ∧ z|} |b ⊕ x⟩. Returns (indices int64 [T·d, 2], real parts, imaginary
    parts), each string's phase being ±1 or ±i."""
    terms, n = codes.shape
    d = 2 ** n
    bits = 1 << np.arange(n - 1, -1, -1)
    x_mask = ((codes == 1) | (codes == 2)) @ bits
    z_mask = ((codes == 2) | (codes == 3)) @ bits
    n_y = np.count_nonzero(codes == 2, axis=1)
    b = np.arange(d)
    popcount = np.array([bin(v).count("1") for v in range(d)])
    parity = popcount[b[None, :] & z_mask[:, None]] % 2
    values = (1j ** n_y)[:, None] * (1 - 2 * parity)  # [T, d]
    rows = (b[None, :] ^ x_mask[:, None]) * d + b[None, :]
    term = np.broadcast_to(np.arange(terms)[:, None], (terms, d))
    indices = np.stack([rows.ravel(), term.ravel()], axis=1).astype(np.int64)
    order = np.lexsort((indices[:, 1], indices[:, 0]))
    return indices[order], values.real.ravel()[order], values.imag.ravel()[order]
