"""4D SU(3) lattice gauge theory on a periodic nt x nx x ny x nz lattice.

Links ``x`` of shape [chains, 4, nt, nx, ny, nz, 3, 3] (complex64 or complex128):
``x[:, mu, t, x, y, z]`` is the SU(3) matrix U_mu(n) on the link from site n to n + mu-hat
(mu = 0: t, 1: x, 2: y, 3: z). The plaquette of the plane (mu, nu), mu < nu, is

    P_mu,nu(n) = U_mu(n) U_nu(n + mu) U_mu(n + nu)^dagger U_nu(n)^dagger,

the 1 x 2 rectangle (two links along mu, one along nu; all 12 ordered pairs mu != nu)

    R_mu,nu(n) = U_mu(n) U_mu(n + mu) U_nu(n + 2 mu)
                 x U_mu(n + mu + nu)^dagger U_mu(n + nu)^dagger U_nu(n)^dagger,

and the action (Wilson for c1 = 0; Symanzik tree-level improved for c1 = -1/12, Iwasaki -0.331)

    S(U) = -(beta/3) [ (1 - 8 c1) sum_P Re tr P + c1 sum_R Re tr R ],

so the target density is exp(-S). The average plaquette is sum_P Re tr P / (18 V) (6 planes per
site, tr 1 = 3): 1 on the identity, 0 on average over Haar-random links.

Force. With momenta in the coordinates p_a of su(3) (``group.SU3``: P = sum_a p_a T_a,
T_a = i lambda_a / 2) and the link update U' = exp(eps P) U, the force is the Lie derivative

    F_a(n, mu) = d/dw S(e^{w T_a} U_mu(n)) at w = 0.

For the Wilson action, S = -(beta/3) Re tr(U_mu(n) Sigma_mu(n)) + (terms without this link),
Sigma the sum of the six staples, so F_a = -(beta/3) Re tr(T_a U Sigma) = (beta/6) p_a(Pi(U Sigma)),
with Pi(M) = (M - M^dagger)/2 - tr(M - M^dagger)/6 the traceless anti-Hermitian projection and
p_a(A) = -2 Re tr(T_a A) the su(3) coordinates: the projection of U times the derivative of S by
U (the "dS/dU U^dagger" of l2hmc-qcd, in our sign and normalization). The plaquette part is
computed from the staples, Sigma_mu(n) = sum_{nu != mu} [U_nu(n+mu) U_mu(n+nu)^dagger U_nu(n)^dagger
+ U_nu(n+mu-nu)^dagger U_mu(n-nu)^dagger U_nu(n-nu)], times (1 - 8 c1); the rectangle part (c1 != 0)
by automatic differentiation of c1 sum Re tr R at (1 + w.T) U (the first-order term of e^{w.T} U)
in the real coordinates w at w = 0. ``tests/l2hmc/test_su3_lattice.py`` checks both against
finite differences of S along e^{h w.T}. With this F the leapfrog p <- p - eps F, U <- e^{eps P} U integrates
H = S + (1/2) sum p^2 and preserves the Haar x Lebesgue measure.

Topological charge. The clover field strength F_mu,nu(n) = [(Q - Q^dagger) - tr(Q - Q^dagger)/3] / (8 i),
Q the sum of the four plaquettes of the (mu, nu) plane starting and ending at n, oriented
(mu, nu) counter-clockwise (Hermitian, traceless), and

    q(n) = (1/32 pi^2) eps_mu,nu,rho,sigma tr F_mu,nu F_rho,sigma
         = (1/4 pi^2) Re tr(F_01 F_23 - F_02 F_13 + F_03 F_12),      Q = sum_n q(n)

(eps_0123 = +1). Not an integer on rough fields (no smoothing here); odd under parity, invariant
under gauge transformations (every F at n turns into g(n) F g(n)^dagger, so
tr F F is gauge invariant). The cheap proxy for the loss uses one leaf instead of four
(F from P_mu,nu(n) alone, divided by 2 i instead of 8 i): the plaquettes of the action, the same
invariance, not parity odd. ``topological_charge(x, kind)``: "clover" (alias "int", the name of
U(1)'s charge in the shared trainer and evaluation) or "proxy" (alias "sin").
"""
import math

import tensorflow as tf

from tfqsr.l2hmc.group import SU3, complex_dtype, reunitarize, su3_coordinates, su3_matrix
from tfqsr.validation import check, integer

PLANES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
KINDS = {"clover": "clover", "int": "clover", "proxy": "proxy", "sin": "proxy"}


def _shift(u, mu, k):
    """u(n + k mu-hat) for u [chains, nt, nx, ny, nz, ...] (periodic)."""
    return tf.roll(u, -k, axis=1 + mu)


def _dag(u):
    return tf.linalg.adjoint(u)


def _product(*matrices):
    result = matrices[0]
    for m in matrices[1:]:
        result = tf.linalg.matmul(result, m)
    return result


def _re_tr_ab_dagger(a, b):
    """Re tr(A B^dagger) = Re sum_ij A_ij conj(B_ij), summed over all but the chain axis."""
    terms = tf.math.real(a * tf.math.conj(b))
    return tf.reduce_sum(tf.reshape(terms, [tf.shape(a)[0], -1]), axis=1)


def _re_tr_product(a, b):
    """Re tr(A B) per site [chains, sites...]."""
    return tf.math.real(tf.reduce_sum(a * tf.linalg.matrix_transpose(b), axis=[-2, -1]))


class SU3Lattice:
    """The periodic nt x nx x ny x nz SU(3) lattice at coupling ``beta`` (module docstring).

    Methods take links ``x`` [chains, 4, nt, nx, ny, nz, 3, 3] and return one value per chain;
    ``beta`` arguments (a float or a scalar tensor) override the lattice's coupling. The same
    methods as ``U1Lattice``, so the dynamics, kernel, loss, trainer and evaluation serve both.
    """

    def __init__(self, nt, nx, ny, nz, beta=6.0, c1=0.0):
        self.nt, self.nx, self.ny, self.nz = (integer(name, n, minimum=2) for name, n in
                                              zip(("nt", "nx", "ny", "nz"), (nt, nx, ny, nz)))
        check(isinstance(beta, (int, float)) and not isinstance(beta, bool) and beta >= 0,
              "beta", "a real number >= 0", beta)
        check(isinstance(c1, (int, float)) and not isinstance(c1, bool) and math.isfinite(c1),
              "c1", "a real number", c1)
        self.beta = float(beta)
        self.c1 = float(c1)
        self.group = SU3()
        self.sites = (self.nt, self.nx, self.ny, self.nz)
        self.link_shape = (4, *self.sites)
        self.volume = math.prod(self.sites)
        self.num_plaquettes = 6 * self.volume

    def __repr__(self):
        return (f"SU3Lattice(nt={self.nt}, nx={self.nx}, ny={self.ny}, nz={self.nz}, "
                f"beta={self.beta}, c1={self.c1})")

    def _beta(self, beta, dtype):
        return tf.cast(self.beta if beta is None else beta, dtype.real_dtype)

    # --- loops -------------------------------------------------------------------------------
    def _plaquette_halves(self, x, mu, nu):
        """(A, B) with P_mu,nu = A B^dagger: A = U_mu(n) U_nu(n+mu), B = U_nu(n) U_mu(n+nu)."""
        u, w = x[:, mu], x[:, nu]
        return tf.linalg.matmul(u, _shift(w, mu, 1)), tf.linalg.matmul(w, _shift(u, nu, 1))

    def plaquettes(self, x):
        """The six plaquette fields [chains, 6, nt, nx, ny, nz, 3, 3] (planes ``PLANES``)."""
        return tf.stack([tf.linalg.matmul(a, _dag(b)) for a, b in
                         (self._plaquette_halves(x, mu, nu) for mu, nu in PLANES)], axis=1)

    def _sum_re_tr_plaquettes(self, x):
        return tf.add_n([_re_tr_ab_dagger(*self._plaquette_halves(x, mu, nu)) for mu, nu in PLANES])

    def _sum_re_tr_rectangles(self, x):
        total = []
        doubled = [tf.linalg.matmul(x[:, mu], _shift(x[:, mu], mu, 1)) for mu in range(4)]
        for mu in range(4):
            for nu in range(4):
                if mu == nu:
                    continue
                # A = U_mu(n) U_mu(n+mu) U_nu(n+2mu), B = U_nu(n) U_mu(n+nu) U_mu(n+nu+mu)
                a = tf.linalg.matmul(doubled[mu], _shift(x[:, nu], mu, 2))
                b = tf.linalg.matmul(x[:, nu], _shift(doubled[mu], nu, 1))
                total.append(_re_tr_ab_dagger(a, b))
        return tf.add_n(total)

    # --- action, force, observables ------------------------------------------------------------
    def action(self, x, beta=None):
        """S per chain (module docstring)."""
        beta = self._beta(beta, x.dtype)
        total = (1.0 - 8.0 * self.c1) * self._sum_re_tr_plaquettes(x)
        if self.c1 != 0.0:
            total += self.c1 * self._sum_re_tr_rectangles(x)
        return -beta / 3.0 * total

    def _staples(self, x, mu):
        """Sigma_mu(n) (module docstring): Re tr(U_mu(n) Sigma_mu(n)) collects every plaquette
        holding U_mu(n)."""
        u, total = x[:, mu], []
        for nu in range(4):
            if nu == mu:
                continue
            w = x[:, nu]
            w_mu = _shift(w, mu, 1)  # U_nu(n + mu)
            total.append(_product(w_mu, _dag(_shift(u, nu, 1)), _dag(w)))
            # the lower staple at n is U_nu(m+mu)^dagger U_mu(m)^dagger U_nu(m) at m = n - nu
            total.append(_shift(_product(_dag(w_mu), _dag(u), w), nu, -1))
        return tf.add_n(total)

    def action_gradient(self, x, beta=None):
        """The force F [chains, 4, nt, nx, ny, nz, 8] in su(3) coordinates (module docstring):
        (beta/6)(1 - 8 c1) p_a(U Sigma) from the staples, plus the rectangles' by autodiff."""
        beta = self._beta(beta, x.dtype)
        force = tf.stack([su3_coordinates(tf.linalg.matmul(x[:, mu], self._staples(x, mu)))
                          for mu in range(4)], axis=1) * (beta / 6.0 * (1.0 - 8.0 * self.c1))
        if self.c1 != 0.0:
            w = tf.zeros(self.group.momentum_shape(x), x.dtype.real_dtype)
            with tf.GradientTape() as tape:
                tape.watch(w)
                moved = x + tf.linalg.matmul(su3_matrix(w), x)
                rectangles = -beta / 3.0 * self.c1 * tf.reduce_sum(self._sum_re_tr_rectangles(moved))
            force += tape.gradient(rectangles, w)
        return force

    def target_log_prob(self, x, beta=None):
        """log of the unnormalized density exp(-S(x))."""
        return -self.action(x, beta)

    def plaquette(self, x):
        """sum_P Re tr P / (18 V) per chain."""
        return self._sum_re_tr_plaquettes(x) / (18.0 * self.volume)

    def _clover(self, x, mu, nu):
        """Q_mu,nu(n): the four counter-clockwise leaves at n."""
        u, w = x[:, mu], x[:, nu]
        um, wn = _shift(u, mu, -1), _shift(w, nu, -1)  # U_mu(n - mu), U_nu(n - nu)
        leaves = [
            _product(u, _shift(w, mu, 1), _dag(_shift(u, nu, 1)), _dag(w)),
            _product(w, _dag(_shift(um, nu, 1)), _dag(_shift(w, mu, -1)), um),
            _product(_dag(um), _dag(_shift(wn, mu, -1)), _shift(um, nu, -1), wn),
            _product(_dag(wn), _shift(u, nu, -1), _shift(wn, mu, 1), _dag(u)),
        ]
        return tf.add_n(leaves)

    def _field_strengths(self, x, kind):
        fields = []
        for plane, (mu, nu) in enumerate(PLANES):
            if kind == "clover":
                q, leaves = self._clover(x, mu, nu), 4.0
            else:
                a, b = self._plaquette_halves(x, mu, nu)
                q, leaves = tf.linalg.matmul(a, _dag(b)), 1.0
            anti = q - _dag(q)
            anti -= tf.linalg.trace(anti)[..., None, None] / 3.0 * tf.eye(3, dtype=x.dtype)
            fields.append(anti / tf.constant(2j * leaves, x.dtype))
        return fields

    def topological_charge(self, x, kind="clover"):
        """Q per chain: "clover" ("int") or the one-leaf "proxy" ("sin") (module docstring)."""
        check(kind in KINDS, "kind", "'clover', 'proxy', 'int' or 'sin'", kind)
        f01, f02, f03, f12, f13, f23 = self._field_strengths(x, KINDS[kind])
        density = _re_tr_product(f01, f23) - _re_tr_product(f02, f13) + _re_tr_product(f03, f12)
        return tf.reduce_sum(tf.reshape(density, [tf.shape(x)[0], -1]), axis=1) / (4 * math.pi ** 2)

    def plaquette_distance(self, x, y):
        """sum_P ||P(y) - P(x)||_F^2 / 3 = sum_P (2 - (2/3) Re tr P(y) P(x)^dagger) per chain
        (gauge invariant: both plaquettes at n turn by the same g(n)); the plaquette loss."""
        return tf.reduce_sum(tf.reshape(2.0 - 2.0 / 3.0 * tf.math.real(tf.reduce_sum(
            self.plaquettes(y) * tf.math.conj(self.plaquettes(x)), axis=[-2, -1])),
            [tf.shape(x)[0], -1]), axis=1)

    def strong_coupling_plaquette(self, beta=None):
        """<(1/3) Re tr U_P> = beta/18 + beta^2/216 + O(beta^3) (the single-plaquette character
        expansion with <(Re tr U)^2> = 1/2, <(Re tr U)^3> = 1/4 over Haar SU(3); the Wilson
        action only)."""
        beta = self.beta if beta is None else float(beta)
        return beta / 18.0 + beta ** 2 / 216.0

    # --- starts --------------------------------------------------------------------------------
    def random_links(self, chains, seed, dtype=tf.complex64):
        """Haar-random links (a hot start; stateless ``seed`` int32 [2]): complex Gaussian
        matrices re-unitarized (``group.reunitarize``). ``dtype``: real or complex; float32 and
        complex64 give complex64 links, float64 and complex128 complex128."""
        dtype = complex_dtype(dtype)
        shape = [chains, *self.link_shape, 3, 3]
        parts = tf.random.stateless_normal([2, *shape], seed, dtype=dtype.real_dtype)
        return reunitarize(tf.complex(parts[0], parts[1]))

    def identity_links(self, chains, dtype=tf.complex64):
        """Every link the identity (a cold start): plaquette 1, charge 0."""
        eye = tf.eye(3, dtype=complex_dtype(dtype))
        return tf.broadcast_to(eye, [chains, *self.link_shape, 3, 3])
