"""The group interface the sampler moves in: one object per gauge group (or flat space).

The dynamics, kernel, loss and trainer touch the links only through a ``Group``, so a new gauge
group (SU(3): links as 3x3 complex matrices, momenta in su(3)) adds a group and a lattice, not
a second sampler. A group fixes, for link variables ``x`` of any shape ``[chains, ...]``:

    project(x)                 the canonical representative of a group element (U(1): the angle
                               wrapped to [-pi, pi); SU(3): re-unitarization)
    exp_update(x, p, eps)      the link update U' = exp(eps p) U (U(1): x + eps p)
    random_momentum(shape, seed, dtype)
                               Gaussian momenta in the Lie algebra, density exp(-kinetic_energy)
    kinetic_energy(p)          K(p) per chain (U(1): (1/2) sum p^2, summed over every axis but
                               the first)
    features(x)                the periodic inputs a network sees (U(1): cos x, sin x on a new
                               last axis; flat space: x itself), so networks never see the
                               2 pi ambiguity of an angle
    compact                    True when positions may use the non-compact projection (NCP)
                               form of the leapfrog (U(1) angles; not SU(3), whose links move
                               by left multiplication only)
    additive                   True when a link is its own real coordinate and exp_update is
                               x + eps p (flat space, U(1) angles): the position update may scale
                               x, and TFP's HMC moves the links; False for SU(3)
    element_shape, algebra_shape
                               the trailing axes of one link and of one momentum: () and () for
                               U(1); (3, 3) and (8,) for SU(3)
    momentum_shape(x), finite(x)
                               the momentum shape of links x; per chain, whether x is finite

The momentum of U(1) is the real number p with U' = e^{i eps p} U: momenta and link
coordinates are both real arrays of the shape of ``x``. SU(3) represents momenta by their 8
real coordinates p_a in the basis T_a = i lambda_a / 2 of su(3) (lambda_a the Gell-Mann
matrices, tr T_a T_b = -delta_ab / 2): P = sum_a p_a T_a, so (1/2) sum_a p_a^2 = -tr P^2.
"""
import math

import numpy as np
import tensorflow as tf


def wrap_angle(x):
    """x mapped to [-pi, pi) (the same point of the circle)."""
    return tf.math.floormod(x + math.pi, 2 * math.pi) - math.pi


def as_real(value, dtype):
    """``value`` (a Python number or a tensor) as a tensor of ``dtype``; a Python float goes
    straight to ``dtype`` (``tf.cast`` of a Python float rounds it to float32 first)."""
    if isinstance(value, (int, float)):
        return tf.constant(value, dtype)
    return tf.cast(value, dtype)


def _per_chain_sum(values):
    return tf.reduce_sum(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


class Group:
    """Flat space R^n (the toy targets): links are real numbers, x' = x + eps p."""
    name = "real"
    compact = False
    additive = True
    element_shape = ()
    algebra_shape = ()
    num_features = 1

    def project(self, x):
        return x

    def exp_update(self, x, p, eps):
        return self.project(x + eps * p)

    def random_momentum(self, shape, seed, dtype=tf.float32):
        """Standard normal momenta (stateless ``seed``, int32 [2]); density exp(-K(p))."""
        return tf.random.stateless_normal(shape, seed, dtype=dtype)

    def kinetic_energy(self, p):
        """K(p) = (1/2) sum p^2 per chain (over every axis but the first)."""
        return 0.5 * _per_chain_sum(tf.square(p))

    def features(self, x):
        """Network inputs of positions ``x``: shape ``link axes + [num_features]``."""
        return x[..., None]

    def momentum_shape(self, x):
        """The shape of the momenta of links ``x`` (a shape tensor)."""
        return tf.shape(x)

    def finite(self, x):
        """[chains] bool: every entry of the chain's links finite."""
        return tf.reduce_all(tf.math.is_finite(tf.reshape(x, [tf.shape(x)[0], -1])), axis=1)


class U1(Group):
    """U(1): a link U = e^{i x} is its angle x in [-pi, pi); momenta are real (u(1) = iR)."""
    name = "u1"
    compact = True
    num_features = 2

    def project(self, x):
        return wrap_angle(x)

    def features(self, x):
        return tf.stack([tf.cos(x), tf.sin(x)], axis=-1)


def _gell_mann():
    lam = np.zeros((8, 3, 3), complex)
    lam[0][0, 1] = lam[0][1, 0] = 1
    lam[1][0, 1], lam[1][1, 0] = -1j, 1j
    lam[2][0, 0], lam[2][1, 1] = 1, -1
    lam[3][0, 2] = lam[3][2, 0] = 1
    lam[4][0, 2], lam[4][2, 0] = -1j, 1j
    lam[5][1, 2] = lam[5][2, 1] = 1
    lam[6][1, 2], lam[6][2, 1] = -1j, 1j
    lam[7] = np.diag([1, 1, -2]) / np.sqrt(3)
    return lam


GENERATORS = 0.5j * _gell_mann()  # T_a = i lambda_a / 2: anti-Hermitian, tr T_a T_b = -delta_ab/2


def su3_matrix(p):
    """P = sum_a p_a T_a [..., 3, 3] (complex) from real coordinates p [..., 8]."""
    dtype = tf.complex64 if p.dtype == tf.float32 else tf.complex128
    return tf.einsum("...a,aij->...ij", tf.complex(p, tf.zeros_like(p)), tf.constant(GENERATORS, dtype))


def su3_coordinates(a):
    """p_a = -2 Re tr(T_a A) [..., 8]: the coordinates of the traceless anti-Hermitian part of
    A [..., 3, 3] (the inverse of ``su3_matrix`` on su(3))."""
    return -2.0 * tf.math.real(tf.einsum("aij,...ji->...a", tf.constant(GENERATORS, a.dtype), a))


def project_traceless_antihermitian(a):
    """Pi(A) = (A - A^dagger)/2 - tr(A - A^dagger)/6 (the projection onto su(3))."""
    b = 0.5 * (a - tf.linalg.adjoint(a))
    trace = tf.linalg.trace(b)[..., None, None] / 3.0
    return b - trace * tf.eye(3, dtype=a.dtype)


def expm(a, *, threshold=0.25):
    """exp(A) for a batch of 3x3 matrices A [..., 3, 3], by scaling and squaring.

    A / 2^s with s = max(0, ceil(log2(max_batch ||A||_F / threshold))) has Frobenius norm
    <= ``threshold``; its Taylor polynomial of degree 11, evaluated by Paterson-Stockmeyer
    (B^2, B^3, then Horner in B^3: 5 matrix products), has relative error
    <= threshold^12 / 12! (1.2e-16 by default), then s squarings. One s for the whole batch
    (static shapes; a few extra squarings for the small elements). Differentiable. Measured
    against scipy.linalg.expm: < 1e-13 in complex128 for ||A||_F up to 8.
    """
    real = a.dtype.real_dtype
    norm = tf.reduce_max(tf.sqrt(tf.reduce_sum(tf.square(tf.abs(a)), axis=[-2, -1])))
    s = tf.maximum(tf.math.ceil(tf.math.log(norm / threshold) / math.log(2.0)), 0.0)
    s = tf.where(tf.math.is_finite(s), s, tf.zeros_like(s))
    b = a / tf.cast(tf.pow(tf.constant(2.0, real), s), a.dtype)
    eye = tf.eye(3, dtype=a.dtype)
    b2 = tf.linalg.matmul(b, b)
    b3 = tf.linalg.matmul(b2, b)
    c = [1.0 / math.factorial(k) for k in range(12)]

    def group(j):  # c_3j + c_3j+1 B + c_3j+2 B^2
        return c[3 * j] * eye + c[3 * j + 1] * b + c[3 * j + 2] * b2
    e = group(3)
    for j in (2, 1, 0):
        e = group(j) + tf.linalg.matmul(b3, e)
    _, e = tf.while_loop(lambda i, e: i < tf.cast(s, tf.int32),
                         lambda i, e: (i + 1, tf.linalg.matmul(e, e)), (tf.constant(0), e))
    return e


def reunitarize(u):
    """The nearest-by-Gram-Schmidt SU(3) matrix of u [..., 3, 3]: rows 1 and 2 orthonormalized,
    row 3 = conj(row1 x row2), so U U^dagger = 1 and det U = 1 to rounding. Applied to complex
    Gaussian matrices it gives Haar-distributed SU(3) matrices (the map commutes with right
    multiplication by SU(3))."""
    r0, r1 = u[..., 0, :], u[..., 1, :]

    def normalize(r):
        return r / tf.cast(tf.norm(r, axis=-1, keepdims=True), r.dtype)
    r0 = normalize(r0)
    r1 = normalize(r1 - tf.reduce_sum(tf.math.conj(r0) * r1, axis=-1, keepdims=True) * r0)

    def cross(a, b, i, j):
        return a[..., i] * b[..., j] - a[..., j] * b[..., i]
    r2 = tf.math.conj(tf.stack([cross(r0, r1, 1, 2), cross(r0, r1, 2, 0), cross(r0, r1, 0, 1)], -1))
    return tf.stack([r0, r1, r2], axis=-2)


def complex_dtype(dtype):
    """complex64 for float32/complex64, complex128 for float64/complex128."""
    dtype = tf.as_dtype(dtype)
    return tf.complex64 if dtype.real_dtype == tf.float32 else tf.complex128


class SU3(Group):
    """SU(3): links are 3x3 complex matrices [..., 3, 3]; momenta their 8 real su(3)
    coordinates [..., 8] (module docstring); U' = exp(eps P) U.

    kinetic_energy: K = (1/2) sum_links (sum_a p_a^2 - 8) as in l2hmc-qcd (the constant 8 per
    link cancels in every acceptance ratio). features: Re and Im of the 9 entries (18 per link).
    project: ``reunitarize``. No NCP (positions are moved only by left multiplication).
    """
    name = "su3"
    compact = False  # no non-compact projection on SU(3)
    additive = False
    element_shape = (3, 3)
    algebra_shape = (8,)
    num_features = 18

    def project(self, x):
        return reunitarize(x)

    def exp_update(self, x, p, eps):
        """exp(eps P) U (not re-projected: a left translation, exact up to rounding)."""
        return tf.linalg.matmul(expm(su3_matrix(as_real(eps, p.dtype) * p)), x)

    def kinetic_energy(self, p):
        links = tf.cast(tf.reduce_prod(tf.shape(p)[1:-1]), p.dtype)
        return 0.5 * (_per_chain_sum(tf.square(p)) - 8.0 * links)

    def features(self, x):
        shape = tf.concat([tf.shape(x)[:-2], [9]], 0)
        flat = tf.reshape(x, shape)
        return tf.concat([tf.math.real(flat), tf.math.imag(flat)], axis=-1)

    def momentum_shape(self, x):
        return tf.concat([tf.shape(x)[:-2], [8]], 0)

    def finite(self, x):
        return super().finite(tf.math.real(x)) & super().finite(tf.math.imag(x))


GROUPS = {"real": Group, "u1": U1, "su3": SU3}
