"""Training and measuring the learned sampler on the toy targets (``targets``), as in the
L2HMC paper (Levy, Hoffman, Sohl-Dickstein 2018) and its reference code (brain-research/l2hmc,
``SCGExperiment.ipynb``): the same dynamics and kernel in flat space.

Training (the reference's settings are the defaults): ``chains`` = 200 chains x, each step one
proposal x' per chain (a random direction) and one proposal z' from fresh z ~ N(0, 1) (the
paper's burn-in term: the sampler must also move well from the initial distribution q); with
d = A |x' - x|^2 + 1e-4 (A the acceptance probability),

    loss = [lambda / d_x - d_x / lambda] + burn_in_weight [lambda / d_z - d_z / lambda]

averaged over chains, lambda = ``scale`` = 0.1, burn_in_weight 1; Adam, learning rate 1e-3
decayed by 0.96 every 1000 steps (staircase), no gradient clipping, 5000 steps; the chains x
then take their Metropolis-Hastings step. 10 leapfrog steps, initial step size 0.1, networks
of two hidden layers of 10 units. The step runs in one ``tf.function``; ``jit_compile=True``
compiles it with XLA (both directions are then computed for every chain and one is selected,
so shapes are static), which on a loaded 2-core CPU did not finish compiling in 20 minutes.

Efficiency: ESS per gradient evaluation, ESS / (steps x chains x gradient evaluations per
trajectory): nleapfrog + 1 for L2HMC (``LeapfrogDynamics.gradient_evaluations``),
``num_leapfrog_steps`` for TFP's HMC, which reuses the gradient at the start. Two estimators,
the same for every sampler:

- ``ess_per_gradient``: ``tfp.mcmc.effective_sample_size`` of each coordinate (chains as
  independent series, Geyer's initial positive sequence), the smaller coordinate's;
- ``reference_ess_per_gradient``: the reference notebook's: the autocovariance of x / sqrt(tr C)
  about the known mean 0, averaged over chains and coordinates, rho_t kept where > 0.05,
  ESS = 1 / (1 + 2 sum_{t>=1} rho_t) per sample, over lags t < steps / 2 (the notebook sums
  all lags, whose noise near the end of a chain passes the cut).

HMC is tuned fairly: for each trajectory length in ``hmc_leapfrog_steps`` the step size is
adapted by dual averaging (target acceptance 0.75) during the burn-in; the best of the lengths is
the baseline. ``paper_hmc`` adds the paper's untuned baseline (10 steps of size 0.15).
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfqsr.l2hmc.dynamics import LeapfrogDynamics
from tfqsr.l2hmc.kernel import hmc_kernel, l2hmc_kernel, propose, run_chain
from tfqsr.l2hmc.loss import FLOOR, acceptance_probability, reciprocal


def train_toy(target, *, steps, chains=200, nleapfrog=10, eps=0.1, units=(10, 10), lr=1e-3,
              decay_steps=1000, decay_rate=0.96, scale=0.1, burn_in_weight=1.0, clip_norm=None,
              seed=0, jit_compile=False, log_every=0):
    """A ``LeapfrogDynamics`` trained on ``target`` (module docstring).

    Returns (dynamics, history): history has per step "loss" and "acceptance" (the mean over
    the chains x) as numpy arrays. ``log_every`` > 0 prints a line every so many steps.
    """
    import keras
    keras.utils.set_random_seed(seed)
    dynamics = LeapfrogDynamics("real", target.link_shape, nleapfrog=nleapfrog, eps=eps,
                                use_ncp=False, units=units, mask_seed=seed)
    dynamics.build()
    schedule = keras.optimizers.schedules.ExponentialDecay(lr, decay_steps, decay_rate, staircase=True)
    optimizer = keras.optimizers.Adam(schedule)
    optimizer.build(dynamics.trainable_variables)
    x = tf.Variable(tf.random.stateless_normal([chains, *target.link_shape], [seed, 1]))

    def jump(start, seed):
        proposal = propose(dynamics, target, start, seed, both_directions=jit_compile)
        acceptance = acceptance_probability(proposal.log_accept_ratio)
        squared = tf.reduce_sum(tf.square(proposal.state - start), axis=1)
        return proposal, acceptance, acceptance * squared + FLOOR

    @tf.function(autograph=False, jit_compile=jit_compile)
    def step(seed):
        x_seed, z_seed, z_draw, accept_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
        z = tf.random.stateless_normal(tf.shape(x), z_draw)
        with tf.GradientTape() as tape:
            proposal, acceptance, d_x = jump(x, x_seed)
            loss = reciprocal(d_x, scale)
            if burn_in_weight:
                loss += burn_in_weight * reciprocal(jump(z, z_seed)[2], scale)
        gradients = tape.gradient(loss, dynamics.trainable_variables)
        if clip_norm:
            gradients, _ = tf.clip_by_global_norm(gradients, clip_norm)
        optimizer.apply_gradients(zip(gradients, dynamics.trainable_variables))
        accepted = tf.random.stateless_uniform([chains], accept_seed) < acceptance
        x.assign(tf.where(accepted[:, None], proposal.state, x))
        return loss, tf.reduce_mean(acceptance)

    history = []
    for i in range(steps):
        history.append(step(tf.constant([seed, 10 + i])))
        if log_every and (i % log_every == 0 or i == steps - 1):
            print(f"step {i}: loss {float(history[-1][0]):.4g}, acceptance {float(history[-1][1]):.2f}",
                  flush=True)
    losses, acceptances = (np.array([float(h[j]) for h in history]) for j in (0, 1))
    return dynamics, {"loss": losses, "acceptance": acceptances}


def ess_per_gradient(samples, gradient_evaluations):
    """min over coordinates of ESS / (steps x chains x gradient evaluations), samples [steps, chains, dim]."""
    ess = tfp.mcmc.effective_sample_size(tf.constant(samples), filter_beyond_positive_pairs=True)
    total = np.sum(ess.numpy(), axis=0)  # sum over chains: [dim]
    steps, chains = samples.shape[:2]
    return float(np.min(total) / (steps * chains * gradient_evaluations))


def reference_ess_per_gradient(samples, gradient_evaluations, scale, cutoff=0.05):
    """The reference notebook's ESS per sample (module docstring) / gradient evaluations;
    ``samples`` [steps, chains, dim] of a target with mean 0, ``scale`` = sqrt(trace of its
    covariance)."""
    x = np.asarray(samples, np.float64) / scale
    steps = x.shape[0]
    spectrum = np.fft.rfft(x, n=2 * steps, axis=0)
    products = np.fft.irfft(spectrum * np.conj(spectrum), axis=0)[:steps]  # sum_t x_t x_{t+k}
    rho = products.sum(axis=2).mean(axis=1) / (steps - np.arange(steps))
    rho = rho[: steps // 2]  # longer lags average too few products: their noise passes the cut
    rho = rho * (rho > cutoff)
    return float(1.0 / (1.0 + 2.0 * np.sum(rho[1:])) / gradient_evaluations)


def sample_toy(kernel, start, steps, seed, accepted, jit_compile=True):
    """Samples [steps, chains, dim], the acceptance and the final kernel results of ``kernel``
    from ``start``."""
    run = tf.function(lambda s: run_chain(kernel, s, steps, tf.constant([seed, 7]),
                                          lambda x, r: {"x": x, "accepted": accepted(r)}),
                      autograph=False, jit_compile=jit_compile)
    _, results, trace = run(start)
    return trace["x"].numpy(), float(np.mean(trace["accepted"].numpy())), results


def _measure(samples, gradient_evaluations, scale, acceptance, **extra):
    return {"ess": ess_per_gradient(samples, gradient_evaluations),
            "reference_ess": reference_ess_per_gradient(samples, gradient_evaluations, scale),
            "acceptance": acceptance, "gradient_evaluations": int(gradient_evaluations), **extra}


def compare_with_hmc(target, dynamics, *, chains=200, steps=2000, burn_in=500,
                     hmc_leapfrog_steps=(10, 20, 40, 80), paper_hmc=True, seed=0):
    """ESS per gradient of the trained ``dynamics`` and of HMC (module docstring), every sampler
    started from ``target.sample`` (exact draws, or for the rough well N(0, I): give it a longer
    ``burn_in``) and measured after ``burn_in`` trajectories. The notebook's estimator scales by
    sqrt(tr ``target.covariance``), the target's second moment about its mean 0 (exact, or by
    quadrature for the rough well).

    Returns {"l2hmc": {...}, "hmc": {num_leapfrog_steps: {...}}, "paper_hmc": {...}, "best_hmc":
    num_leapfrog_steps of the best tuned HMC by ``ess``, "gain", "reference_gain" (L2HMC over
    the best tuned HMC, each estimator's own best), "paper_gain"}; each {...} has "ess",
    "reference_ess", "acceptance", "gradient_evaluations" (and "step_size" for HMC).
    """
    start = tf.constant(target.sample(chains, seed), tf.float32)
    scale = float(np.sqrt(np.trace(target.covariance)))
    total = burn_in + steps
    x, acceptance, _ = sample_toy(l2hmc_kernel(dynamics, target), start, total, seed,
                                  lambda r: r.is_accepted, jit_compile=False)
    result = {"l2hmc": _measure(x[burn_in:], dynamics.gradient_evaluations, scale, acceptance),
              "hmc": {}}
    for n in hmc_leapfrog_steps:
        kernel = hmc_kernel(target, step_size=0.1, num_leapfrog_steps=n, num_adaptation_steps=burn_in)
        x, acceptance, results = sample_toy(kernel, start, total, seed,
                                            lambda r: r.inner_results.is_accepted)
        result["hmc"][n] = _measure(x[burn_in:], n, scale, acceptance,
                                    step_size=float(np.mean(results.new_step_size.numpy())))
    best = max(result["hmc"], key=lambda n: result["hmc"][n]["ess"])
    result["best_hmc"] = best
    result["gain"] = result["l2hmc"]["ess"] / result["hmc"][best]["ess"]
    result["reference_gain"] = (result["l2hmc"]["reference_ess"]
                                / max(h["reference_ess"] for h in result["hmc"].values()))
    if paper_hmc:
        kernel = tfp.mcmc.HamiltonianMonteCarlo(lambda y: target.target_log_prob(y),
                                                step_size=0.15, num_leapfrog_steps=10)
        x, acceptance, _ = sample_toy(kernel, start, total, seed, lambda r: r.is_accepted)
        result["paper_hmc"] = _measure(x[burn_in:], 10, scale, acceptance, step_size=0.15)
        result["paper_gain"] = result["l2hmc"]["ess"] / result["paper_hmc"]["ess"]
    return result
