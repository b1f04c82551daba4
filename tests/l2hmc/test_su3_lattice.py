"""SU(3) group and lattice against independent references on 2^4 lattices in fp64: the matrix
exponential against scipy, Haar moments, the action (Wilson and improved) and plaquette against
explicit numpy loops, the force against finite differences of the action along e^{h w.T},
gauge invariance of action, plaquette and both charges, parity flipping the clover charge, the
identity start."""
import itertools

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from tfqsr.l2hmc.group import SU3, expm, reunitarize, su3_coordinates, su3_matrix
from tfqsr.l2hmc.su3 import SU3Lattice

GROUP = SU3()
L = 2
SHAPE = (L, L, L, L)


def _random_su3(rng, shape):
    g = rng.normal(size=(*shape, 3, 3)) + 1j * rng.normal(size=(*shape, 3, 3))
    return reunitarize(tf.constant(g)).numpy()


@pytest.fixture(scope="module")
def links():
    return SU3Lattice(*SHAPE, beta=5.0).random_links(2, [1, 2], dtype=tf.float64)


def test_exponential_matches_scipy_to_1e_12():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(200, 8)) * rng.uniform(0, 3, size=(200, 1))  # ||P||_F up to ~6
    a = su3_matrix(tf.constant(p)).numpy()
    got = expm(tf.constant(a)).numpy()
    reference = np.stack([scipy.linalg.expm(m) for m in a])
    assert np.abs(got - reference).max() < 1e-12
    assert np.abs(expm(tf.zeros([1, 3, 3], tf.complex128)).numpy() - np.eye(3)).max() == 0


def test_algebra_coordinates_round_trip_and_kinetic_normalization():
    p = np.random.default_rng(1).normal(size=(5, 8))
    a = su3_matrix(tf.constant(p))
    np.testing.assert_allclose(su3_coordinates(a).numpy(), p, atol=1e-14)
    # (1/2) sum p^2 = -tr P^2; P traceless anti-Hermitian
    np.testing.assert_allclose(0.5 * (p ** 2).sum(1), -np.trace(a.numpy() @ a.numpy(), axis1=1, axis2=2).real,
                               atol=1e-12)
    np.testing.assert_allclose(a.numpy() + np.conj(np.swapaxes(a.numpy(), 1, 2)), 0, atol=1e-15)


def test_haar_links_are_in_su3_with_haar_moments():
    lattice = SU3Lattice(4, 4, 4, 4, beta=1.0)
    u = lattice.random_links(4, [3, 4], dtype=tf.float64).numpy().reshape(-1, 3, 3)
    unit = np.broadcast_to(np.eye(3), u.shape)
    np.testing.assert_allclose(u @ np.conj(np.swapaxes(u, 1, 2)), unit, atol=1e-13)
    np.testing.assert_allclose(np.linalg.det(u), 1.0, atol=1e-13)
    tr = np.trace(u, axis1=1, axis2=2)
    n = len(tr)  # Haar SU(3): <tr U> = 0, <|tr U|^2> = 1, <(tr U)^3> = 1 (variances ~1, ~1, ~6)
    assert abs(tr.mean()) < 4 / np.sqrt(n)
    assert abs((np.abs(tr) ** 2).mean() - 1) < 4 * np.sqrt(1.0 / n)
    assert abs((tr ** 3).mean() - 1) < 4 * np.sqrt(6.0 / n)


def _numpy_loops(u):
    """(sum Re tr P, sum Re tr R) per chain by explicit loops over sites and directions."""
    chains = u.shape[0]
    plaq, rect = np.zeros(chains), np.zeros(chains)

    def link(c, mu, n):
        return u[c, mu][tuple(np.mod(n, L))]

    def step(n, mu, k=1):
        n = list(n)
        n[mu] += k
        return n
    dag = lambda m: np.conj(m.T)  # noqa: E731
    for c in range(chains):
        for n in itertools.product(range(L), repeat=4):
            for mu, nu in itertools.permutations(range(4), 2):
                if mu < nu:
                    p = (link(c, mu, n) @ link(c, nu, step(n, mu)) @ dag(link(c, mu, step(n, nu)))
                         @ dag(link(c, nu, n)))
                    plaq[c] += np.trace(p).real
                r = (link(c, mu, n) @ link(c, mu, step(n, mu)) @ link(c, nu, step(n, mu, 2))
                     @ dag(link(c, mu, step(step(n, mu), nu))) @ dag(link(c, mu, step(n, nu)))
                     @ dag(link(c, nu, n)))
                rect[c] += np.trace(r).real
    return plaq, rect


@pytest.mark.parametrize("c1", [0.0, -1.0 / 12], ids=["wilson", "symanzik"])
def test_action_and_plaquette_match_numpy_loops(links, c1):
    lattice = SU3Lattice(*SHAPE, beta=5.5, c1=c1)
    plaq, rect = _numpy_loops(links.numpy())
    np.testing.assert_allclose(lattice.plaquette(links).numpy(), plaq / (18 * L ** 4), atol=1e-13)
    expected = -5.5 / 3 * ((1 - 8 * c1) * plaq + c1 * rect)
    np.testing.assert_allclose(lattice.action(links).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("c1", [0.0, -1.0 / 12], ids=["wilson", "symanzik"])
def test_force_matches_finite_differences_along_algebra_directions(links, c1):
    lattice = SU3Lattice(*SHAPE, beta=5.0, c1=c1)
    force = lattice.action_gradient(links).numpy()
    assert force.shape == (2, 4, *SHAPE, 8)
    rng = np.random.default_rng(2)
    for _ in range(2):  # a random direction on every link, then a single coordinate of one link
        w = rng.normal(size=force.shape)
        h = 1e-4

        def action(t):
            return lattice.action(GROUP.exp_update(links, tf.constant(w), t)).numpy()
        # fourth-order central differences of S(e^{t w.T} U) at t = 0
        fd = (8 * (action(h) - action(-h)) - (action(2 * h) - action(-2 * h))) / (12 * h)
        analytic = (force * w).reshape(2, -1).sum(1)
        np.testing.assert_allclose(analytic, fd, rtol=1e-8, atol=1e-8)
    w = np.zeros(force.shape)
    w[1, 2, 1, 0, 1, 1, 5] = 1.0
    fd = (lattice.action(GROUP.exp_update(links, tf.constant(w), 1e-5))
          - lattice.action(GROUP.exp_update(links, tf.constant(w), -1e-5))).numpy() / 2e-5
    np.testing.assert_allclose(fd[1], force[1, 2, 1, 0, 1, 1, 5], rtol=1e-7, atol=1e-8)


def _gauge_transform(u, g):
    """U_mu(n) -> g(n) U_mu(n) g(n + mu)^dagger (numpy)."""
    out = np.empty_like(u)
    for mu in range(4):
        shifted = np.roll(g, -1, axis=1 + mu)
        out[:, mu] = g @ u[:, mu] @ np.conj(np.swapaxes(shifted, -1, -2))
    return out


def _parity(u):
    """U'_0(n) = U_0(Pn), U'_i(n) = U_i(Pn - i)^dagger with P(t, x, y, z) = (t, -x, -y, -z)."""
    idx = [np.arange(u.shape[2])] + [(-np.arange(n)) % n for n in u.shape[3:6]]
    reflected = u[:, :, idx[0]][:, :, :, idx[1]][:, :, :, :, idx[2]][:, :, :, :, :, idx[3]]
    out = np.empty_like(u)
    out[:, 0] = reflected[:, 0]
    for i in range(1, 4):
        # U_i(Pn - i) = U_i(P(n + i)): the reflected field at n + i
        shifted = np.roll(reflected[:, i], -1, axis=1 + i)
        out[:, i] = np.conj(np.swapaxes(shifted, -1, -2))
    return out


def test_action_plaquette_and_charges_are_gauge_invariant(links):
    lattice = SU3Lattice(*SHAPE, beta=5.0, c1=-1.0 / 12)
    g = _random_su3(np.random.default_rng(3), (2, *SHAPE))
    moved = tf.constant(_gauge_transform(links.numpy(), g))
    assert np.abs(moved.numpy() - links.numpy()).max() > 0.5
    for fn in (lattice.action, lattice.plaquette, lambda x: lattice.topological_charge(x, "clover"),
               lambda x: lattice.topological_charge(x, "proxy")):
        np.testing.assert_allclose(fn(moved).numpy(), fn(links).numpy(), rtol=1e-11, atol=1e-12)


def test_parity_flips_the_clover_charge():
    lattice = SU3Lattice(2, 3, 3, 3, beta=5.0)  # extent 3: the reflection moves sites
    links = lattice.random_links(2, [5, 6], dtype=tf.float64)
    q = lattice.topological_charge(links).numpy()
    flipped = tf.constant(_parity(links.numpy()))
    assert np.abs(q).min() > 1e-3  # a rough field has a non-zero (non-integer) charge
    np.testing.assert_allclose(lattice.topological_charge(flipped).numpy(), -q, rtol=1e-11)
    np.testing.assert_allclose(lattice.action(flipped).numpy(), lattice.action(links).numpy(), rtol=1e-12)


def test_identity_start_has_plaquette_one_and_charge_zero():
    lattice = SU3Lattice(*SHAPE, beta=6.0)
    x = lattice.identity_links(3, tf.float64)
    np.testing.assert_array_equal(lattice.plaquette(x).numpy(), 1.0)
    np.testing.assert_array_equal(lattice.topological_charge(x).numpy(), 0.0)
    np.testing.assert_array_equal(lattice.topological_charge(x, "proxy").numpy(), 0.0)
    np.testing.assert_array_equal(lattice.action_gradient(x).numpy(), 0.0)
    assert x.dtype == tf.complex128 and lattice.random_links(1, [0, 0]).dtype == tf.complex64


@pytest.mark.parametrize("args,named", [
    ((1, 2, 2, 2), "nt must be an integer >= 2"),
    ((2, 2, 2, 2, -1.0), "beta must be a real number >= 0"),
    ((2, 2, 2, 2, 6.0, float("nan")), "c1 must be a real number"),
])
def test_bad_lattice_arguments_are_refused(args, named):
    from tfqsr.validation import ConfigError
    with pytest.raises((ConfigError, ValueError), match=named):
        SU3Lattice(*args)
