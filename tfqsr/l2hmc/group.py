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
    compact                    True for a compact group (angles): positions may use the
                               non-compact projection (NCP) form of the leapfrog

The momentum of U(1) is the real number p with U' = e^{i eps p} U: momenta and link
coordinates are both real arrays of the shape of ``x``. SU(3) will represent momenta by their
8 real coordinates in a basis of su(3).
"""
import math

import tensorflow as tf


def wrap_angle(x):
    """x mapped to [-pi, pi) (the same point of the circle)."""
    return tf.math.floormod(x + math.pi, 2 * math.pi) - math.pi


def _per_chain_sum(values):
    return tf.reduce_sum(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


class Group:
    """Flat space R^n (the toy targets): links are real numbers, x' = x + eps p."""
    name = "real"
    compact = False
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
        """Network inputs of positions ``x``: shape ``x.shape + [num_features]``."""
        return x[..., None]


class U1(Group):
    """U(1): a link U = e^{i x} is its angle x in [-pi, pi); momenta are real (u(1) = iR)."""
    name = "u1"
    compact = True
    num_features = 2

    def project(self, x):
        return wrap_angle(x)

    def features(self, x):
        return tf.stack([tf.cos(x), tf.sin(x)], axis=-1)


GROUPS = {"real": Group, "u1": U1}
