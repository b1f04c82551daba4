"""The L2HMC training loss: reward proposals that move the topological charge (and the
plaquettes), weighted by their acceptance probability.

For chains x with proposals x' accepted with probability A = min(1, e^{log A}):

    charge term      l_Q = A (Q_sin(x') - Q_sin(x))^2 + 1e-4
    plaquette term   l_P = A sum_P 2 (1 - cos(theta_P(x') - theta_P(x))) + 1e-4
                     (``lattice.plaquette_distance``; SU(3): sum_P ||P(x') - P(x)||_F^2 / 3)
    loss             = sum over the terms with weight w > 0 of mean_chains(w / l - l / w)

the reciprocal form of L2HMC (Levy et al. 2018): w / l punishes chains that barely move, -l / w
rewards large expected jumps. On SU(3) Q_sin is the one-leaf proxy of the clover charge
(``su3.SU3Lattice.topological_charge(x, "proxy")``). The weights are ``charge_weight``
(default 0.01) and ``plaq_weight`` (default 0: off). The 1e-4 keeps w / l finite for a rejected proposal.
"""
import tensorflow as tf

FLOOR = 1e-4


def acceptance_probability(log_accept_ratio):
    """min(1, e^{log A}); 0 where log A is -inf (rejected, non-finite proposals)."""
    return tf.exp(tf.minimum(log_accept_ratio, 0.0))


def reciprocal(expected_jump, weight):
    """mean(w / l - l / w) of the expected jumps l [chains]."""
    return tf.reduce_mean(weight / expected_jump - expected_jump / weight)


def l2hmc_loss(lattice, x, x_proposed, acceptance, *, charge_weight, plaq_weight):
    """The loss (module docstring) of proposals ``x_proposed`` from ``x``."""
    loss = tf.zeros([], acceptance.dtype)
    if charge_weight > 0:
        dq = lattice.topological_charge(x_proposed, "sin") - lattice.topological_charge(x, "sin")
        loss += reciprocal(acceptance * dq ** 2 + FLOOR, charge_weight)
    if plaq_weight > 0:
        jump = lattice.plaquette_distance(x, x_proposed)
        loss += reciprocal(acceptance * jump + FLOOR, plaq_weight)
    return loss
