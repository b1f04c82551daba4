"""U1Lattice against an independent numpy computation, finite differences, an instanton and
the character expansion."""
import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from tfqsr.l2hmc.lattice import U1Lattice
from tfqsr.validation import ConfigError


def _numpy_plaquettes(x):
    """theta_P with explicit site loops: x[c, mu, t, s]."""
    chains, _, nt, nx = x.shape
    theta = np.zeros((chains, nt, nx))
    for t in range(nt):
        for s in range(nx):
            theta[:, t, s] = (x[:, 0, t, s] + x[:, 1, (t + 1) % nt, s]
                              - x[:, 0, t, (s + 1) % nx] - x[:, 1, t, s])
    return theta


def _wrap(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


@pytest.fixture(scope="module")
def links():
    return np.random.default_rng(0).uniform(-np.pi, np.pi, (3, 2, 4, 5))


def test_observables_match_numpy(links):
    lattice = U1Lattice(4, 5, beta=2.5)
    theta = _numpy_plaquettes(links)
    x = tf.constant(links)
    np.testing.assert_allclose(lattice.action(x), 2.5 * (1 - np.cos(theta)).sum((1, 2)), rtol=1e-12)
    np.testing.assert_allclose(lattice.plaquette(x), np.cos(theta).mean((1, 2)), rtol=1e-12)
    np.testing.assert_allclose(lattice.topological_charge(x, "int"),
                               _wrap(theta).sum((1, 2)) / (2 * np.pi), atol=1e-12)
    np.testing.assert_allclose(lattice.topological_charge(x, "sin"),
                               np.sin(theta).sum((1, 2)) / (2 * np.pi), atol=1e-12)
    charge = lattice.topological_charge(x, "int").numpy()
    np.testing.assert_allclose(charge, np.round(charge), atol=1e-9)  # integer on a torus


def test_action_gradient_matches_finite_differences(links):
    lattice = U1Lattice(4, 5, beta=1.7)
    x = links[:1]
    h = 1e-6
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape[1:]):
        step = np.zeros_like(x)
        step[(0, *index)] = h
        numeric[(0, *index)] = (lattice.action(tf.constant(x + step)) -
                                lattice.action(tf.constant(x - step))).numpy()[0] / (2 * h)
    np.testing.assert_allclose(lattice.action_gradient(tf.constant(x)), numeric, atol=1e-7)


def _instanton(nt, nx, charge):
    """Links whose every plaquette angle is 2 pi Q / V (module docstring of the test file)."""
    volume = nt * nx
    x = np.zeros((1, 2, nt, nx))
    x[0, 1] = (2 * np.pi * charge * np.arange(nt) / volume)[:, None]
    x[0, 0, nt - 1] = -2 * np.pi * charge * np.arange(nx) / nx
    return _wrap(x)


@pytest.mark.parametrize("charge", [1, -2])
def test_instanton_has_its_charge_and_is_gauge_invariant(charge):
    lattice = U1Lattice(6, 8)
    x = _instanton(6, 8, charge)
    np.testing.assert_allclose(_wrap(_numpy_plaquettes(x)), 2 * np.pi * charge / 48, atol=1e-12)
    alpha = np.random.default_rng(1).uniform(-np.pi, np.pi, (6, 8))  # x_mu(n) + a(n) - a(n + mu)
    gauged = x + np.stack([alpha - np.roll(alpha, -1, 0), alpha - np.roll(alpha, -1, 1)])[None]
    for links in (x, _wrap(gauged)):
        links = tf.constant(links)
        assert lattice.topological_charge(links, "int").numpy()[0] == pytest.approx(charge, abs=1e-9)
        assert lattice.topological_charge(links, "sin").numpy()[0] == pytest.approx(
            48 * math.sin(2 * math.pi * charge / 48) / (2 * math.pi), abs=1e-9)
        assert lattice.plaquette(links).numpy()[0] == pytest.approx(math.cos(2 * math.pi * charge / 48))


def test_exact_plaquette_is_the_bessel_ratio_and_its_finite_volume_sum():
    lattice = U1Lattice(2, 2, beta=3.0)
    assert lattice.exact_plaquette() == pytest.approx(special.i1(3.0) / special.i0(3.0), rel=1e-14)
    # 2 x 2 torus, V = 4: Z = sum_n I_n^4 by direct quadrature over the 8 links is costly; use
    # the independent form <cos> = (1/V) d ln Z/d beta by finite differences of ln Z.
    def log_z(beta):
        n = np.arange(-40, 41)
        return np.log(np.sum(special.iv(n, beta) ** 4))
    numeric = (log_z(3.0 + 1e-5) - log_z(3.0 - 1e-5)) / 2e-5 / 4
    assert lattice.exact_plaquette_finite_volume() == pytest.approx(numeric, rel=1e-8)
    assert U1Lattice(64, 64, 3.0).exact_plaquette_finite_volume() == pytest.approx(
        lattice.exact_plaquette(), rel=1e-12)


def test_exact_plaquette_of_a_small_torus_matches_monte_carlo_free_integration():
    """On a 2 x 2 torus Z is an 8-dimensional integral; the plaquette field theta_P has 4 values
    with one constraint sum theta_P = 0 mod 2 pi, so <cos> is a 3-dimensional integral:
    checked against numerical quadrature on a grid."""
    beta, grid = 1.3, 48
    a = np.linspace(-np.pi, np.pi, grid, endpoint=False)
    t1, t2, t3 = np.meshgrid(a, a, a, indexing="ij")
    t4 = -(t1 + t2 + t3)
    weight = np.exp(beta * (np.cos(t1) + np.cos(t2) + np.cos(t3) + np.cos(t4)))
    expected = np.sum(weight * (np.cos(t1) + np.cos(t2) + np.cos(t3) + np.cos(t4)) / 4) / weight.sum()
    assert U1Lattice(2, 2, beta).exact_plaquette_finite_volume() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("kwargs,named", [({"nt": 1, "nx": 4}, "nt"), ({"nt": 4, "nx": 2.5}, "nx"),
                                          ({"nt": 4, "nx": 4, "beta": -1.0}, "beta")])
def test_bad_arguments_are_refused(kwargs, named):
    with pytest.raises(ConfigError, match=named):
        U1Lattice(**kwargs)
