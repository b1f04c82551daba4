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
tuned by ``tfp.mcmc.DualAveragingStepSizeAdaptation`` to a target acceptance. TFP's HMC moves
in flat space, so on a non-additive group (SU(3)) the baseline is ``UncalibratedGroupHMC``
(ours: p ~ exp(-K), the leapfrog p <- p - (eps/2) F, U <- exp(eps P) U, p <- p - (eps/2) F,
``num_leapfrog_steps`` times, the force at the end of one step reused at the start of the next
and carried to the next trajectory in the kernel results, so again ``num_leapfrog_steps``
gradient evaluations per trajectory; the links re-projected to the group at the end) inside the
same MetropolisHastings and DualAveragingStepSizeAdaptation: the same step-size adaptation and
the same results (``inner_results.is_accepted``, ``new_step_size``).
"""
import collections

import tensorflow as tf
import tensorflow_probability as tfp

from tfqsr.l2hmc.group import as_real

L2HMCKernelResults = collections.namedtuple(
    "L2HMCKernelResults", ["log_acceptance_correction", "target_log_prob", "log_det_jacobian"])
GroupHMCResults = collections.namedtuple(
    "GroupHMCResults", ["log_acceptance_correction", "target_log_prob", "force", "step_size"])
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
    v = group.random_momentum(group.momentum_shape(x), momentum_seed, dtype=x.dtype.real_dtype)
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
    finite = group.finite(x_new) & tf.math.is_finite(log_ratio)
    log_ratio = tf.where(finite, log_ratio, tf.constant(-float("inf"), log_ratio.dtype))
    return Proposal(x_new, log_ratio, logdet, target_log_prob)


def proposal_gradient_evaluations(dynamics, merge_directions=False):
    """Force evaluations per proposal: nleapfrog + 1 per trajectory, two with merge_directions."""
    return dynamics.gradient_evaluations * (2 if merge_directions else 1)


class _Uncalibrated(tfp.mcmc.TransitionKernel):
    """A proposal for MetropolisHastings: its constructor arguments are ``parameters``."""

    def __init__(self, **parameters):
        self._parameters = parameters

    @property
    def parameters(self):
        return self._parameters

    @property
    def is_calibrated(self):
        return False


class UncalibratedL2HMC(_Uncalibrated):
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
        super().__init__(dynamics=dynamics, target=target, beta=beta,
                         merge_directions=merge_directions, name=name,
                         both_directions=both_directions)
        self.both_directions = both_directions
        self.dynamics = dynamics
        self.target = target
        self.beta = beta
        self.merge_directions = merge_directions

    def one_step(self, current_state, previous_kernel_results, seed=None):
        seed = tfp.random.sanitize_seed(seed)
        proposal = propose(self.dynamics, self.target, current_state, seed, beta=self.beta,
                           merge_directions=self.merge_directions,
                           both_directions=self.both_directions)
        # MetropolisHastings adds log p(x') - log p(x) itself.
        correction = (proposal.log_accept_ratio - proposal.target_log_prob
                      + previous_kernel_results.target_log_prob)
        correction = tf.where(tf.math.is_finite(proposal.log_accept_ratio), correction,
                              tf.constant(-float("inf"), correction.dtype))
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


def leapfrog(group, force_fn, x, p, eps, steps, force=None):
    """``steps`` plain leapfrog steps in ``group``: p <- p - (eps/2) F(x), x <- exp_update(x, p,
    eps), p <- p - (eps/2) F(x). Returns (x, p, F(x)); ``force``: F at the start, if known.
    ``steps`` force evaluations (plus one without ``force``)."""
    force = force_fn(x) if force is None else force
    eps = as_real(eps, p.dtype)

    def body(i, x, p, force):
        p = p - 0.5 * eps * force
        x = group.exp_update(x, p, eps)
        force = force_fn(x)
        return i + 1, x, p - 0.5 * eps * force, force
    _, x, p, force = tf.while_loop(lambda i, *_: i < steps, body, (tf.constant(0), x, p, force))
    return x, p, force


class UncalibratedGroupHMC(_Uncalibrated):
    """HMC on the links of ``target.group`` (module docstring), an uncalibrated proposal for
    ``tfp.mcmc.MetropolisHastings``. The step size lives in the kernel results (``step_size``),
    where ``tfp.mcmc.DualAveragingStepSizeAdaptation`` sets it."""

    def __init__(self, target, step_size, num_leapfrog_steps, beta=None, name=None):
        super().__init__(target=target, step_size=step_size, num_leapfrog_steps=num_leapfrog_steps,
                         beta=beta, name=name)
        self.target = target
        self.group = target.group
        self.step_size = step_size
        self.num_leapfrog_steps = int(num_leapfrog_steps)
        self.beta = beta

    def _force(self, x):
        return self.target.action_gradient(x, self.beta)

    def one_step(self, current_state, previous_kernel_results, seed=None):
        seed = tfp.random.sanitize_seed(seed)
        group, previous = self.group, previous_kernel_results
        p = group.random_momentum(group.momentum_shape(current_state), seed,
                                  dtype=current_state.dtype.real_dtype)
        x, p_new, force = leapfrog(group, self._force, current_state, p, previous.step_size,
                                   self.num_leapfrog_steps, force=previous.force)
        # re-projected; the last force is carried on (the projection moves x by rounding only)
        x = group.project(x)
        target_log_prob = self.target.target_log_prob(x, self.beta)
        correction = group.kinetic_energy(p) - group.kinetic_energy(p_new)
        finite = group.finite(x) & tf.math.is_finite(correction) & tf.math.is_finite(target_log_prob)
        correction = tf.where(finite, correction, tf.constant(-float("inf"), correction.dtype))
        return x, GroupHMCResults(correction, target_log_prob, force, previous.step_size)

    def bootstrap_results(self, init_state):
        target_log_prob = self.target.target_log_prob(init_state, self.beta)
        return GroupHMCResults(tf.zeros_like(target_log_prob), target_log_prob,
                               self._force(init_state),
                               tf.convert_to_tensor(self.step_size, target_log_prob.dtype))


def hmc_kernel(target, *, step_size, num_leapfrog_steps, num_adaptation_steps,
               target_accept_prob=0.75, beta=None):
    """Plain HMC (``num_leapfrog_steps`` gradient evaluations per trajectory) with dual-averaging
    step-size adaptation over the first ``num_adaptation_steps`` steps: TFP's HMC on an additive
    group (flat space, U(1) angles), ``UncalibratedGroupHMC`` in MetropolisHastings otherwise."""
    if target.group.additive:
        hmc = tfp.mcmc.HamiltonianMonteCarlo(
            target_log_prob_fn=lambda x: target.target_log_prob(x, beta),
            step_size=step_size, num_leapfrog_steps=num_leapfrog_steps)
    else:
        hmc = tfp.mcmc.MetropolisHastings(UncalibratedGroupHMC(target, step_size,
                                                               num_leapfrog_steps, beta))
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
