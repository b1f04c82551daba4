"""The generalized leapfrog of L2HMC with exact inverses and log-determinants.

Positions x (links, shape [chains, *link_shape]) and momenta v of the same shape; F = dS/dx the
force of the action S at the current beta. Leapfrog step k (of ``nleapfrog``) has learned step
sizes eps_x[k], eps_v[k] > 0 (stored as logs), a fixed mask m_k selecting half of the links
(drawn from ``mask_seed``, saved with the model), a momentum network V_k and a position network
X_k. Forward, step k is four sub-updates, each with its log |det Jacobian|:

  v <- v e^{eps_v s/2} - (eps_v/2)(F(x) e^{eps_v q} + t),  (s,t,q) = V_k(x, F)   log-det sum eps_v s/2
  x <- m (.) g(x; s) + eps_x (v e^{eps_x q} + t) on the links m, (s,t,q) = X_k(m-bar x, v)
  x <- the same on the complementary links m-bar, (s,t,q) = X_k(m x, v)
  v <- the first update again at the new x

where g is the affine map g(x) = x e^{eps_x s} (log-det eps_x s) or, for angles, the non-compact
projection g(x) = 2 atan(e^{eps_x s} tan(x/2)), a bijection of (-pi, pi) with
log g'(x) = eps_x s - log(cos^2(x/2) + e^{2 eps_x s} sin^2(x/2)). Each sub-update's networks read
only what it leaves unchanged, so it inverts in closed form: v = (v' + (eps_v/2)(F e^{eps_v q} + t))
e^{-eps_v s/2}; x = g^{-1}(x' - eps_x(v e^{eps_x q} + t)) with g^{-1} the map with -s (for NCP
after wrapping x' - translation to [-pi, pi), so the backward map is the exact inverse on the
circle). The backward trajectory runs the inverses of steps N-1, ..., 0 and its log-det is minus
the forward one's at the corresponding point.

NCP links are wrapped after every position update (the map is one of the circle). The affine
scaling is not 2 pi periodic, so affine angles are left unwrapped inside a trajectory (an exact
bijection of R^n) and wrapped only at its end: on a compact group prefer NCP (the default), on
flat targets affine is exact.

On a non-additive group (SU(3), ``Group.additive`` False) x is a field of group elements and v,
F, s, t, q have the momentum shape (the 8 su(3) coordinates per link): the momentum updates are
the same formulas coordinate by coordinate (log-det sum eps_v s/2 over links and coordinates),
and the position update of the links m is the left translation

  U <- exp(eps_x (v e^{eps_x q} + t) . T) U     on the links m, (t, q) = X_k(m-bar U, v)

(backward: exp(-eps_x (...) . T) U with the same (t, q), which read only frozen links and v), with
no learned scale: left multiplication by an element that does not depend on U preserves the Haar
measure of every link, so its log-det is 0. Masks select whole links, never matrix entries (the
entry-wise masks of the reference push links out of the group). Links are re-projected to the
group at the end of a proposal (``kernel.propose``), not inside the trajectory.

Force evaluations: the force at the end of a step is the force at the start of the next one, so
a trajectory evaluates dS/dx ``nleapfrog + 1`` times (``gradient_evaluations``).
"""
import math

import keras
import numpy as np
import tensorflow as tf

from tfqsr.l2hmc.group import GROUPS
from tfqsr.l2hmc.networks import LeapfrogNetwork


def _per_chain_sum(values):
    return tf.reduce_sum(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def random_masks(nleapfrog, link_shape, seed):
    """[nleapfrog, *link_shape] float 0/1 masks, each selecting half of the links (numpy, from seed)."""
    rng = np.random.default_rng(seed)
    size = math.prod(link_shape)
    masks = np.zeros((nleapfrog, size), np.float32)
    for k in range(nleapfrog):
        masks[k, rng.permutation(size)[: size // 2]] = 1.0
    return masks.reshape((nleapfrog, *link_shape))


@keras.saving.register_keras_serializable(package="tfqsr")
class LeapfrogDynamics(keras.layers.Layer):
    """The learned leapfrog (module docstring) on links of ``link_shape`` in ``group``.

    Args:
      group: "u1" (angles), "su3" (3x3 matrices) or "real" (flat space, the toy targets); see
        ``tfqsr.l2hmc.group``.
      link_shape: one chain's link shape (the links, not the matrix axes): (2, nt, nx) for U(1),
        (4, nt, nx, ny, nz) for SU(3).
      nleapfrog: leapfrog steps per trajectory.
      eps: the initial step size of x and v (each step learns its own two).
      use_ncp: the non-compact projection for positions (compact groups only).
      conv_filters, conv_sizes, units: the position networks (convolutions on a lattice, then
        dense); the momentum networks are dense with ``units``.
      separate_networks: one (V, X) pair per leapfrog step (default) or one pair for all.
      mask_seed: the seed of the masks.
    """

    def __init__(self, group="u1", link_shape=(2, 4, 4), nleapfrog=4, eps=0.1, use_ncp=True,
                 conv_filters=(), conv_sizes=(), units=(32,), separate_networks=True, mask_seed=0,
                 **kwargs):
        super().__init__(**kwargs)
        self.group_name = group
        self.group = GROUPS[group]()
        self.link_shape = tuple(int(n) for n in link_shape)
        self.nleapfrog = int(nleapfrog)
        self.eps = float(eps)
        self.use_ncp = bool(use_ncp)
        if self.use_ncp and not self.group.compact:
            raise ValueError(f"use_ncp needs a compact group of angles (U(1)), not {group!r}")
        self.conv_filters = tuple(conv_filters)
        self.conv_sizes = tuple(conv_sizes)
        self.units = tuple(units)
        self.separate_networks = bool(separate_networks)
        self.mask_seed = int(mask_seed)
        count = self.nleapfrog if self.separate_networks else 1
        features, algebra = self.group.num_features, self.group.algebra_shape
        # SU(3) starts as the plain leapfrog (zero heads): at beta = 6 on 4^4 the forces are O(10)
        # on 8192 coordinates, and the translations of U(1)'s small random heads cost dS ~ 5 per
        # proposal, an acceptance of 0 from which training does not recover (measured)
        heads = 1e-2 if self.group.additive else 0.0
        self.position_networks = [
            LeapfrogNetwork(self.link_shape, features, self.conv_filters, self.conv_sizes,
                            self.units, algebra_shape=algebra, head_scale=heads,
                            name=f"x_net_{k}", dtype=self.dtype_policy)
            for k in range(count)]
        self.momentum_networks = [
            LeapfrogNetwork(self.link_shape, features, (), (), self.units, algebra_shape=algebra,
                            head_scale=heads, name=f"v_net_{k}", dtype=self.dtype_policy)
            for k in range(count)]
        # Attributes as well as lists: tf.train.Checkpoint follows attributes, not Keras lists.
        for network in self.position_networks + self.momentum_networks:
            setattr(self, network.name, network)

    @property
    def gradient_evaluations(self):
        """Force evaluations per trajectory: nleapfrog + 1."""
        return self.nleapfrog + 1

    def build(self, input_shape=None):
        for network in self.position_networks + self.momentum_networks:
            network.build()
        init = keras.initializers.Constant(math.log(self.eps))
        self.log_eps_x = self.add_weight(shape=(self.nleapfrog,), initializer=init, name="log_eps_x")
        self.log_eps_v = self.add_weight(shape=(self.nleapfrog,), initializer=init, name="log_eps_v")
        masks = random_masks(self.nleapfrog, self.link_shape, self.mask_seed)
        self.masks = self.add_weight(shape=masks.shape, initializer=keras.initializers.Constant(masks),
                                     trainable=False, name="masks")
        self.built = True

    def step_sizes(self):
        """(eps_x, eps_v), each [nleapfrog]."""
        return tf.exp(self.log_eps_x), tf.exp(self.log_eps_v)

    def _networks(self, k):
        k = k if self.separate_networks else 0
        return self.momentum_networks[k], self.position_networks[k]

    def _momentum_update(self, k, x, v, force, forward):
        network, _ = self._networks(k)
        s, t, q = network(self.group.features(x), force)
        eps = tf.cast(tf.exp(self.log_eps_v[k]), v.dtype)
        s, t, q = (tf.cast(a, v.dtype) for a in (s, t, q))
        shift = 0.5 * eps * (force * tf.exp(eps * q) + t)
        if forward:
            return v * tf.exp(0.5 * eps * s) - shift, _per_chain_sum(0.5 * eps * s)
        return (v + shift) * tf.exp(-0.5 * eps * s), -_per_chain_sum(0.5 * eps * s)

    def _position_update(self, k, x, v, mask, forward):
        _, network = self._networks(k)
        frozen = 1.0 - mask
        s, t, q = network(self.group.features(x) * tf.cast(frozen[..., None], v.dtype), v)
        eps = tf.cast(tf.exp(self.log_eps_x[k]), v.dtype)
        s, t, q = (tf.cast(a, v.dtype) for a in (s, t, q))
        translation = eps * (v * tf.exp(eps * q) + t)
        if not self.group.additive:
            return self._group_position_update(x, translation, mask, forward)
        scale = eps * s if forward else -eps * s
        if not forward:
            x_in = x - translation
            if self.use_ncp:
                x_in = self.group.project(x_in)
        else:
            x_in = x
        if self.use_ncp:
            half = 0.5 * x_in
            y = 2.0 * tf.atan(tf.exp(scale) * tf.tan(half))
            log_jac = scale - tf.math.log(tf.cos(half) ** 2 + tf.exp(2.0 * scale) * tf.sin(half) ** 2)
        else:
            y, log_jac = x_in * tf.exp(scale), scale
        if forward:
            y = y + translation
        if self.use_ncp:
            y = self.group.project(y)
        mask = tf.cast(mask, x.dtype)
        # log |dy/dx|: the translation depends only on the frozen links and v, and the wrap has
        # slope 1, so it is log g'(x_in) of the map applied (its scale is -eps s backward).
        return mask * y + (1.0 - mask) * x, _per_chain_sum(mask * log_jac)

    def _group_position_update(self, x, translation, mask, forward):
        """U <- exp(+-translation . T) U on the links of ``mask`` (log-det 0, module docstring)."""
        mask = tf.cast(mask, translation.dtype)
        algebra_axes = len(self.group.algebra_shape)
        step = translation * tf.reshape(mask, [*mask.shape] + [1] * algebra_axes)
        y = self.group.exp_update(x, step if forward else -step, 1.0)
        keep = tf.reshape(mask > 0, [*mask.shape] + [1] * len(self.group.element_shape))
        return tf.where(keep, y, x), tf.zeros([tf.shape(x)[0]], translation.dtype)

    def forward(self, x, v, force_fn):
        """(x', v', log |det d(x',v')/d(x,v)| [chains]) after ``nleapfrog`` forward steps."""
        return self._trajectory(x, v, force_fn, forward=True)

    def backward(self, x, v, force_fn):
        """The exact inverse of ``forward``: (x, v, its log-det = -forward's)."""
        return self._trajectory(x, v, force_fn, forward=False)

    def _trajectory(self, x, v, force_fn, forward):
        logdet = tf.zeros([tf.shape(x)[0]], v.dtype)
        force = force_fn(x)
        masks = tf.cast(self.masks, v.dtype)
        steps = range(self.nleapfrog) if forward else reversed(range(self.nleapfrog))
        for k in steps:
            first, second = (masks[k], 1.0 - masks[k]) if forward else (1.0 - masks[k], masks[k])
            v, ld = self._momentum_update(k, x, v, force, forward)
            logdet += ld
            for mask in (first, second):
                x, ld = self._position_update(k, x, v, mask, forward)
                logdet += ld
            force = force_fn(x)
            v, ld = self._momentum_update(k, x, v, force, forward)
            logdet += ld
        return x, v, logdet

    def transition(self, x, v, force_fn, direction, *, both=False):
        """``forward`` or ``backward`` per chain: ``direction`` [chains] bool (True: forward).

        ``both``: run both directions on every chain and select (twice the work, but static
        shapes, so the trajectory compiles with XLA; the reference code does this); otherwise
        each chain's trajectory is computed once."""
        if both:
            xf, vf, lf = self.forward(x, v, force_fn)
            xb, vb, lb = self.backward(x, v, force_fn)
            return (select_chains(direction, xf, xb), select_chains(direction, vf, vb),
                    tf.where(direction, lf, lb))
        return _by_direction(self, x, v, force_fn, direction)

    def get_config(self):
        return {**super().get_config(), "group": self.group_name, "link_shape": self.link_shape,
                "nleapfrog": self.nleapfrog, "eps": self.eps, "use_ncp": self.use_ncp,
                "conv_filters": self.conv_filters, "conv_sizes": self.conv_sizes,
                "units": self.units, "separate_networks": self.separate_networks,
                "mask_seed": self.mask_seed}


def select_chains(per_chain, a, b):
    """a where ``per_chain`` [chains] is True, else b (broadcast over the other axes)."""
    return tf.where(tf.reshape(per_chain, [-1] + [1] * (len(a.shape) - 1)), a, b)


def _by_direction(dynamics, x, v, force_fn, direction):
    """Forward for the chains with ``direction`` True, backward for the others (each chain's
    trajectory is computed once: the chains are partitioned, moved and stitched back)."""
    parts = tf.cast(direction, tf.int32)  # 1: forward
    index = tf.dynamic_partition(tf.range(tf.shape(x)[0]), parts, 2)
    xs, vs = tf.dynamic_partition(x, parts, 2), tf.dynamic_partition(v, parts, 2)
    xb, vb, lb = dynamics.backward(xs[0], vs[0], force_fn)
    xf, vf, lf = dynamics.forward(xs[1], vs[1], force_fn)

    def stitch(backward, forward, shape):
        return tf.ensure_shape(tf.dynamic_stitch(index, [backward, forward]), shape)
    return stitch(xb, xf, x.shape), stitch(vb, vf, v.shape), stitch(lb, lf, x.shape[:1])
