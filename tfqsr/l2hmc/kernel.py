"""The learned sampler as a TensorFlow Probability transition kernel, and the HMC baseline.

A target is any object with ``group``, ``link_shape``, ``target_log_prob(x, beta=None)`` and
``action_gradient(x, beta=None)`` (the force dS/dx, S = -log p): ``U1Lattice`` and the toy
targets of ``tfqsr.l2hmc.targets``.

One L2HMC proposal from x: draw v ~ exp(-K(v)) and, per chain, a direction d (forward or
backward, probability 1/2 each); move (x', v') = F(x, v) or F^{-1}(x, v) with the learned
leapfrog; the acceptance ratio is

    log A = log p(x') - log p(x) + K(v) - K(v') + log |det d(x', v')/d(x, v)|,

valid because (x, v, d) -> (x', v', -d) is an involution. With ``merge_directions`` the
proposal is instead F^{-1}(R F(x, v)), R the momentum flip: forward, flip, backward, itself an
involution (for a plain leapfrog it is 2 nleapfrog steps), at twice the cost and with no
random direction. ``UncalibratedL2HMC`` returns x' with the correction
K(v) - K(v') + log-det as ``log_acceptance_correction`` and is wrapped in
``tfp.mcmc.MetropolisHastings`` (``l2hmc_kernel``). A proposal with a non-finite position,
log-det or density gets the correction -inf: it is rejected and the state stays unchanged.

The baseline ``hmc_kernel`` is ``tfp.mcmc.HamiltonianMonteCarlo`` on the same target (its
gradient by automatic differentiation; ``num_leapfrog_steps`` gradient evaluations per
trajectory, the gradient at the start being reused from the previous one) with its step size
tuned by ``tfp.mcmc.DualAveragingStepSizeAdaptation`` to a target acceptance.
"""
import collections

import tensorflow as tf
import tensorflow_probability as tfp

L2HMCKernelResults = collections.namedtuple(
    "L2HMCKernelResults", ["log_acceptance_correction", "target_log_prob", "log_det_jacobian"])
Proposal = collections.namedtuple(
    "Proposal", ["state", "log_accept_ratio", "log_det_jacobian", "target_log_prob"])


def propose(dynamics, target, x, seed, *, beta=None, merge_directions=False,
            both_directions=False):
    """One learned proposal from ``x`` (module docstring) with stateless ``seed`` int32 [2].

    Returns a ``Proposal``: the proposed state (projected to the group), log A before the
    min(1, .) (differentiable in the dynamics' weights; -inf when anything is not finite),
    the log-det and log p(x'). Gradient evaluations: ``proposal_gradient_evaluations``.
    ``both_directions``: static shapes for XLA (``LeapfrogDynamics.transition``: the same
    proposal, each chain's unused direction computed and discarded).
    """
    group = dynamics.group
    momentum_seed, direction_seed = tfp.random.split_seed(seed, 2)
    v = group.random_momentum(tf.shape(x), momentum_seed, dtype=x.dtype)
    force = lambda y: target.action_gradient(y, beta)  # noqa: E731
    if merge_directions:
        x1, v1, logdet1 = dynamics.forward(x, v, force)
        x_new, v_new, logdet2 = dynamics.backward(x1, -v1, force)
        logdet = logdet1 + logdet2
    else:
        forward = tf.random.stateless_uniform([tf.shape(x)[0]], direction_seed) < 0.5
        x_new, v_new, logdet = dynamics.transition(x, v, force, forward, both=both_directions)
    x_new = group.project(x_new)
    target_log_prob = target.target_log_prob(x_new, beta)
    log_ratio = (target_log_prob - target.target_log_prob(x, beta)
                 + group.kinetic_energy(v) - group.kinetic_energy(v_new) + logdet)
    finite = (tf.reduce_all(tf.math.is_finite(tf.reshape(x_new, [tf.shape(x)[0], -1])), axis=1)
              & tf.math.is_finite(log_ratio))
    log_ratio = tf.where(finite, log_ratio, tf.constant(-float("inf"), x.dtype))
    return Proposal(x_new, log_ratio, logdet, target_log_prob)


def proposal_gradient_evaluations(dynamics, merge_directions=False):
    """Force evaluations per proposal: nleapfrog + 1 per trajectory, two with merge_directions."""
    return dynamics.gradient_evaluations * (2 if merge_directions else 1)


class UncalibratedL2HMC(tfp.mcmc.TransitionKernel):
    """The learned leapfrog as an uncalibrated proposal (wrap it in MetropolisHastings).

    Args:
      dynamics: a built ``LeapfrogDynamics``.
      target: the target (module docstring).
      beta: the coupling passed to the target (None: the target's own).
      merge_directions: forward, flip, backward instead of a random direction.
      both_directions: static shapes, for XLA (``propose``).
    """

    def __init__(self, dynamics, target, beta=None, merge_directions=False, name=None,
                 both_directions=False):
        self._parameters = dict(dynamics=dynamics, target=target, beta=beta,
                                merge_directions=merge_directions, name=name,
                                both_directions=both_directions)
        self.both_directions = both_directions
        self.dynamics = dynamics
        self.target = target
        self.beta = beta
        self.merge_directions = merge_directions

    @property
    def parameters(self):
        return self._parameters

    @property
    def is_calibrated(self):
        return False

    def one_step(self, current_state, previous_kernel_results, seed=None):
        seed = tfp.random.sanitize_seed(seed)
        proposal = propose(self.dynamics, self.target, current_state, seed, beta=self.beta,
                           merge_directions=self.merge_directions,
                           both_directions=self.both_directions)
        # MetropolisHastings adds log p(x') - log p(x) itself.
        correction = (proposal.log_accept_ratio - proposal.target_log_prob
                      + previous_kernel_results.target_log_prob)
        correction = tf.where(tf.math.is_finite(proposal.log_accept_ratio), correction,
                              tf.constant(-float("inf"), current_state.dtype))
        return proposal.state, L2HMCKernelResults(correction, proposal.target_log_prob,
                                                  proposal.log_det_jacobian)

    def bootstrap_results(self, init_state):
        target_log_prob = self.target.target_log_prob(init_state, self.beta)
        zeros = tf.zeros_like(target_log_prob)
        return L2HMCKernelResults(zeros, target_log_prob, zeros)


def l2hmc_kernel(dynamics, target, beta=None, merge_directions=False, both_directions=False):
    """``tfp.mcmc.MetropolisHastings`` around :class:`UncalibratedL2HMC`."""
    return tfp.mcmc.MetropolisHastings(UncalibratedL2HMC(
        dynamics, target, beta, merge_directions, both_directions=both_directions))


def hmc_kernel(target, *, step_size, num_leapfrog_steps, num_adaptation_steps,
               target_accept_prob=0.75, beta=None):
    """Plain HMC (``num_leapfrog_steps`` gradient evaluations per trajectory) with dual-averaging
    step-size adaptation over the first ``num_adaptation_steps`` steps."""
    hmc = tfp.mcmc.HamiltonianMonteCarlo(
        target_log_prob_fn=lambda x: target.target_log_prob(x, beta),
        step_size=step_size, num_leapfrog_steps=num_leapfrog_steps)
    return tfp.mcmc.DualAveragingStepSizeAdaptation(
        hmc, num_adaptation_steps=num_adaptation_steps, target_accept_prob=target_accept_prob)


def run_chain(kernel, state, steps, seed, observe, *, group=None):
    """Run ``kernel`` ``steps`` times from ``state``; step i uses the stateless seed
    fold_in(``seed``, i). Returns (final state, final kernel results, {name: [steps, chains]}
    of ``observe(state, results)`` after every step).

    ``group``: when given, each step's state is projected to it (HMC moves angles in R^n; the
    action is periodic, so wrapping changes nothing but the representative).
    """
    project = group.project if group is not None else (lambda x: x)
    results = kernel.bootstrap_results(state)
    arrays = {k: tf.TensorArray(v.dtype, size=steps) for k, v in observe(state, results).items()}

    def loop(i, x, results, arrays):
        x, results = kernel.one_step(x, results, seed=tf.random.experimental.stateless_fold_in(seed, i))
        x = project(x)
        values = observe(x, results)
        return i + 1, x, results, {k: arrays[k].write(i, values[k]) for k in arrays}

    _, state, results, arrays = tf.while_loop(
        lambda i, *_: i < steps, loop, (tf.constant(0), state, results, arrays))
    return state, results, {k: a.stack() for k, a in arrays.items()}
