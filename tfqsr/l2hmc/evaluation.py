"""Sampling runs of the trained sampler and of the HMC baseline, and what they measure.

Both start ``chains`` chains hot (uniform / Haar-random links), run ``burn_in + steps`` trajectories at one
beta and record per trajectory and chain: Q_int, Q_sin, the plaquette and whether the proposal
was accepted. HMC tunes its step size by dual averaging during the burn-in only. The summary
(``summarize``) gives, after the burn-in:

- plaquette: mean of <cos theta_P> (SU(3): Re tr P / 3) with its error (spread of the chain
  means / sqrt(chains)), beside the exact finite-volume value (U(1); None for SU(3));
- tau_int of Q_int (SU(3): the clover charge, not rounded) and of the plaquette, in
  trajectories (``autocorrelation``) and per gradient evaluation
  (tau_int x force evaluations per trajectory: nleapfrog + 1 for L2HMC, num_leapfrog_steps
  for TFP's HMC), each with its error: the cost of one independent charge measurement;
- acceptance, mean |dQ_int| per trajectory, the topological susceptibility <Q_int^2>/V,
  trajectories per second.
"""
import os
import time

import numpy as np
import tensorflow as tf

from tfqsr.l2hmc.autocorrelation import integrated_autocorrelation_time
from tfqsr.l2hmc.kernel import hmc_kernel, l2hmc_kernel, proposal_gradient_evaluations, run_chain
from tfqsr.runtime.files import staged_directory, write_json_atomic


def _observe(lattice, accepted):
    def observe(x, results):
        return {"q_int": lattice.topological_charge(x, "int"),
                "q_sin": lattice.topological_charge(x, "sin"),
                "plaquette": lattice.plaquette(x), "accepted": accepted(results)}
    return observe


def _run(kernel, lattice, accepted, *, chains, total, seed, dtype, jit_compile):
    start = lattice.random_links(chains, [seed, 2], dtype=dtype)
    run = tf.function(lambda s: run_chain(kernel, s, total, tf.constant([seed, 3]), _observe(
        lattice, accepted), group=lattice.group), jit_compile=jit_compile and lattice.group.additive,
                      autograph=False)
    begin = time.perf_counter()
    _, results, trace = run(start)
    return {k: v.numpy() for k, v in trace.items()}, results, time.perf_counter() - begin


def sample_l2hmc(dynamics, lattice, *, beta, chains, steps, burn_in, seed=0, merge_directions=False,
                 dtype=tf.float32):
    """(trace, summary) of the trained ``dynamics`` at ``beta``."""
    kernel = l2hmc_kernel(dynamics, lattice, beta=tf.constant(beta, dtype), merge_directions=merge_directions)
    trace, _, seconds = _run(kernel, lattice, lambda r: r.is_accepted, chains=chains,
                             total=burn_in + steps, seed=seed, dtype=dtype, jit_compile=False)
    grads = proposal_gradient_evaluations(dynamics, merge_directions)
    return trace, summarize(trace, lattice, beta, grads, burn_in, seconds, sampler="l2hmc")


def sample_hmc(lattice, *, beta, chains, steps, burn_in, seed=0, step_size=0.1, num_leapfrog_steps=10,
               target_accept=0.75, dtype=tf.float32):
    """(trace, summary) of tuned HMC at ``beta`` (step size adapted during the burn-in). XLA on an
    additive group (TFP's HMC); SU(3)'s matrix exponential loops, so it runs without."""
    kernel = hmc_kernel(lattice, step_size=tf.constant(step_size, dtype),
                        num_leapfrog_steps=num_leapfrog_steps, num_adaptation_steps=burn_in,
                        target_accept_prob=target_accept, beta=tf.constant(beta, dtype))
    trace, results, seconds = _run(kernel, lattice, lambda r: r.inner_results.is_accepted,
                                   chains=chains, total=burn_in + steps, seed=seed, dtype=dtype,
                                   jit_compile=True)
    summary = summarize(trace, lattice, beta, num_leapfrog_steps, burn_in, seconds, sampler="hmc")
    summary["step_size"] = float(np.mean(results.new_step_size.numpy()))
    return trace, summary


def summarize(trace, lattice, beta, gradient_evaluations, burn_in, seconds, *, sampler):
    """The measurements of a trace (module docstring), a JSON-ready dict."""
    kept = {k: v[burn_in:] for k, v in trace.items()}
    chain_means = kept["plaquette"].mean(0)
    # U(1)'s Q_int is already an integer (rounded by the lattice); SU(3)'s clover charge is not
    tau, tau_error = integrated_autocorrelation_time(kept["q_int"])
    tau_plaquette, tau_plaquette_error = integrated_autocorrelation_time(kept["plaquette"])
    steps, chains = kept["q_int"].shape
    exact = getattr(lattice, "exact_plaquette_finite_volume", None)
    return {
        "sampler": sampler, "beta": float(beta), "lattice": list(lattice.link_shape[1:]),
        "chains": int(chains), "steps": int(steps), "burn_in": int(burn_in),
        "plaquette": float(chain_means.mean()),
        "plaquette_error": float(chain_means.std(ddof=1) / np.sqrt(chains)),
        "exact_plaquette": exact(beta) if exact else None,
        "acceptance": float(kept["accepted"].mean()),
        "dq_int": float(np.abs(np.diff(trace["q_int"][max(burn_in - 1, 0):], axis=0)).mean()),
        "susceptibility": float(np.mean(kept["q_int"] ** 2) / lattice.volume),
        "tau_int": tau, "tau_int_error": tau_error,
        "tau_int_plaquette": tau_plaquette, "tau_int_plaquette_error": tau_plaquette_error,
        "tau_int_plaquette_gradients": tau_plaquette * gradient_evaluations,
        "gradient_evaluations": int(gradient_evaluations),
        "tau_int_gradients": tau * gradient_evaluations,
        "tau_int_gradients_error": tau_error * gradient_evaluations,
        "trajectories_per_second": float(chains * (steps + burn_in) / seconds),
    }


def describe(summary):
    """One line of a summary."""
    exact = summary["exact_plaquette"]
    exact = "" if exact is None else f" (exact {exact:.5f})"
    return (f"{summary['sampler']} beta={summary['beta']:g}: plaquette {summary['plaquette']:.5f} "
            f"+- {summary['plaquette_error']:.5f}{exact}, "
            f"acceptance {summary['acceptance']:.3f}, |dQ| {summary['dq_int']:.3f}, "
            f"tau_int(Q) {summary['tau_int']:.3g} +- {summary['tau_int_error']:.2g} trajectories = "
            f"{summary['tau_int_gradients']:.3g} gradient evaluations, tau_int(plaquette) "
            f"{summary['tau_int_plaquette']:.3g} = {summary['tau_int_plaquette_gradients']:.3g}")


def write_results(directory, trace, summary):
    """``directory``/summary.json, trace.npz and the plots (``plots.plot_sampling``), atomically."""
    from tfqsr.l2hmc.plots import plot_sampling
    with staged_directory(directory) as staging:
        write_json_atomic(os.path.join(staging, "summary.json"), summary)
        np.savez_compressed(os.path.join(staging, "trace.npz"), **trace)
        plot_sampling(staging, trace, summary)
