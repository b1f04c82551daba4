"""Training and measuring the learned sampler on the toy targets (``targets``), as in the
L2HMC paper: the same dynamics and kernel in flat space, with the expected squared jump as the
objective.

Loss of proposals x' from x accepted with probability A (the paper's reciprocal form, without
its burn-in term): d = A |x' - x|^2 + 1e-4, loss = mean(lambda^2/d - d/lambda^2), lambda the
``scale`` of the target (1 unless given). Efficiency: the effective sample size of each
coordinate (``tfp.mcmc.effective_sample_size``, chains as independent series) per gradient
evaluation, ESS / (steps x chains x gradient evaluations per trajectory), the smaller of the
coordinates'; the gain of L2HMC is its value over tuned HMC's.
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfqsr.l2hmc.dynamics import LeapfrogDynamics
from tfqsr.l2hmc.kernel import hmc_kernel, l2hmc_kernel, propose, run_chain
from tfqsr.l2hmc.loss import FLOOR, acceptance_probability


def train_toy(target, *, steps, chains=200, nleapfrog=10, eps=0.1, units=(10, 10), lr=1e-3,
              scale=1.0, seed=0):
    """A ``LeapfrogDynamics`` trained on ``target`` (module docstring); returns (dynamics, losses)."""
    import keras
    keras.utils.set_random_seed(seed)
    dynamics = LeapfrogDynamics("real", target.link_shape, nleapfrog=nleapfrog, eps=eps,
                                use_ncp=False, units=units, mask_seed=seed)
    dynamics.build()
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(lr, 1000, 0.96))
    optimizer.build(dynamics.trainable_variables)
    x = tf.Variable(tf.random.stateless_normal([chains, *target.link_shape], [seed, 1]))

    @tf.function(autograph=False)
    def step(seed):
        proposal_seed, accept_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        with tf.GradientTape() as tape:
            proposal = propose(dynamics, target, x, proposal_seed)
            acceptance = acceptance_probability(proposal.log_accept_ratio)
            jump = acceptance * tf.reduce_sum(tf.square(proposal.state - x), axis=1) + FLOOR
            loss = tf.reduce_mean(scale ** 2 / jump - jump / scale ** 2)
        gradients = tape.gradient(loss, dynamics.trainable_variables)
        gradients, _ = tf.clip_by_global_norm(gradients, 10.0)
        optimizer.apply_gradients(zip(gradients, dynamics.trainable_variables))
        accepted = tf.math.log(tf.random.stateless_uniform([chains], accept_seed)) < proposal.log_accept_ratio
        x.assign(tf.where(accepted[:, None], proposal.state, x))
        return loss
    losses = [float(step(tf.constant([seed, 10 + i]))) for i in range(steps)]
    return dynamics, losses


def ess_per_gradient(samples, gradient_evaluations):
    """min over coordinates of ESS / (steps x chains x gradient evaluations), samples [steps, chains, dim]."""
    ess = tfp.mcmc.effective_sample_size(tf.constant(samples), filter_beyond_positive_pairs=True)
    total = np.sum(ess.numpy(), axis=0)  # sum over chains: [dim]
    steps, chains = samples.shape[:2]
    return float(np.min(total) / (steps * chains * gradient_evaluations))


def sample_toy(kernel, start, steps, seed, accepted):
    """Samples [steps, chains, dim] and the acceptance of ``kernel`` from ``start``."""
    run = tf.function(lambda s: run_chain(kernel, s, steps, tf.constant([seed, 7]),
                                          lambda x, r: {"x": x, "accepted": accepted(r)}),
                      autograph=False)
    _, results, trace = run(start)
    return trace["x"].numpy(), float(np.mean(trace["accepted"].numpy())), results


def compare_with_hmc(target, dynamics, *, chains=200, steps=500, burn_in=200, num_leapfrog_steps=10,
                     seed=0):
    """{"l2hmc": ESS/gradient, "hmc": ESS/gradient, "gain", acceptances, HMC step size}, both
    samplers started from exact or N(0, 1) draws and measured after ``burn_in`` trajectories."""
    start = tf.random.stateless_normal([chains, *target.link_shape], [seed, 3])
    l2hmc = l2hmc_kernel(dynamics, target)
    x, acc_l2hmc, _ = sample_toy(l2hmc, start, burn_in + steps, seed, lambda r: r.is_accepted)
    ess_l2hmc = ess_per_gradient(x[burn_in:], dynamics.gradient_evaluations)
    hmc = hmc_kernel(target, step_size=0.1, num_leapfrog_steps=num_leapfrog_steps,
                     num_adaptation_steps=burn_in)
    x, acc_hmc, results = sample_toy(hmc, start, burn_in + steps, seed, lambda r: r.inner_results.is_accepted)
    ess_hmc = ess_per_gradient(x[burn_in:], num_leapfrog_steps)
    return {"l2hmc": ess_l2hmc, "hmc": ess_hmc, "gain": ess_l2hmc / ess_hmc,
            "l2hmc_acceptance": acc_l2hmc, "hmc_acceptance": acc_hmc,
            "hmc_step_size": float(np.mean(results.new_step_size.numpy()))}
