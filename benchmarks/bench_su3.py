"""SU(3) L2HMC (issue 15): trajectories per second on 2 cores, and the plaquette and charge
autocorrelation of tuned HMC against trained L2HMC at one beta, per gradient evaluation.

    python benchmarks/bench_su3.py --part=throughput            # 4^4 and 8^4, fp32 and fp64
    python benchmarks/bench_su3.py --part=autocorrelation       # 4^4 at beta 6, fp64
    python benchmarks/bench_su3.py --quick                      # both, minutes

throughput: HMC trajectories/s (``UncalibratedGroupHMC`` in MetropolisHastings, --num_leapfrog_steps
leapfrog steps, one ``tf.function`` over --throughput_trajectories trajectories, timed after a
traced warm-up) on each lattice size and precision; on 4^4 also L2HMC sampling trajectories/s
(--nleapfrog learned steps, untrained dense networks of --units) and training steps/s (the
trainer of ``python -m tfqsr.l2hmc train``, second-order gradients through the force). 8^4
L2HMC is not run: the dense networks' first layer has 4 V x 26 inputs (425,984 on 8^4).

autocorrelation: --chains chains start cold and are thermalized by HMC (--thermalize
trajectories); from those configurations L2HMC is trained for --train_steps steps at beta, then
HMC (step size tuned by dual averaging during --burn_in) and the trained L2HMC each run
--steps trajectories; printed: plaquette, acceptance, tau_int of the plaquette and of the clover
charge (unsmoothed: on 4^4 at beta 6 it is mostly ultraviolet noise), in trajectories and per
gradient evaluation (HMC: num_leapfrog_steps per trajectory; L2HMC: nleapfrog + 1), with
errors (spread over groups of chains).
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfqsr.l2hmc.autocorrelation import integrated_autocorrelation_time  # noqa: E402
from tfqsr.l2hmc.config import L2HMCConfig  # noqa: E402
from tfqsr.l2hmc.kernel import hmc_kernel, l2hmc_kernel, run_chain  # noqa: E402
from tfqsr.l2hmc.su3 import SU3Lattice  # noqa: E402
from tfqsr.l2hmc.trainer import DTYPES, build_trainer  # noqa: E402
from tfqsr.runtime.distributed import Distributed  # noqa: E402


def _observe(lattice, accepted):
    return lambda x, r: {"plaquette": lattice.plaquette(x), "charge": lattice.topological_charge(x),
                         "accepted": accepted(r)}


def _sample(kernel, lattice, start, steps, seed, accepted):
    """(final state, final results, numpy trace, seconds of the run after tracing)."""
    run = tf.function(lambda s: run_chain(kernel, s, steps, tf.constant([seed, 1]),
                                          _observe(lattice, accepted), group=lattice.group),
                      autograph=False)
    run.get_concrete_function(start)
    begin = time.perf_counter()
    state, results, trace = run(start)
    return state, results, {k: v.numpy() for k, v in trace.items()}, time.perf_counter() - begin


def _hmc(lattice, args, beta, adaptation, step_size):
    return hmc_kernel(lattice, step_size=step_size, num_leapfrog_steps=args.num_leapfrog_steps,
                      num_adaptation_steps=adaptation, beta=beta)


def _config(args, size, precision, chains):
    return L2HMCConfig(group="su3", nt=size, nx=size, beta_init=args.beta, beta_final=args.beta,
                       eras=1, steps_per_era=max(args.train_steps, 1), chains=chains,
                       nleapfrog=args.nleapfrog, eps=args.eps, units=tuple(args.units),
                       precision=precision, lr=args.lr, seed=args.seed).validate()


def throughput_part(args):
    print("lattice | precision | chains | sampler | trajectories/s | s per trajectory batch")
    for size in args.sizes:
        for precision in args.precisions:
            dtype = DTYPES[precision][0]
            lattice = SU3Lattice(size, size, size, size, beta=args.beta)
            chains = args.chains if size <= 4 else max(2, args.chains // 8)
            start = lattice.identity_links(chains, dtype)
            kernel = _hmc(lattice, args, args.beta, 0, tf.constant(args.eps, dtype))
            n = args.throughput_trajectories
            *_, seconds = _sample(kernel, lattice, start, n, args.seed,
                                  lambda r: r.inner_results.is_accepted)
            print(f"{size}^4 | {precision} | {chains} | HMC, {args.num_leapfrog_steps} leapfrog steps | "
                  f"{chains * n / seconds:.2f} | {seconds / n:.2f}", flush=True)
            if size > 4:
                continue
            trainer = build_trainer(_config(args, size, precision, chains),
                                    Distributed(use_horovod=False))
            kernel = l2hmc_kernel(trainer.dynamics, lattice, beta=tf.constant(args.beta, dtype))
            *_, seconds = _sample(kernel, lattice, start, n, args.seed, lambda r: r.is_accepted)
            print(f"{size}^4 | {precision} | {chains} | L2HMC, {args.nleapfrog} learned steps, units "
                  f"{tuple(args.units)} | {chains * n / seconds:.2f} | {seconds / n:.2f}", flush=True)
            begin = time.perf_counter()
            trainer.step(1)
            first = time.perf_counter() - begin
            begin = time.perf_counter()
            for step in range(2, 2 + args.throughput_train_steps):
                trainer.step(step)
            seconds = (time.perf_counter() - begin) / args.throughput_train_steps
            print(f"{size}^4 | {precision} | {chains} | L2HMC training step (first {first:.1f} s) | "
                  f"{chains / seconds:.2f} | {seconds:.2f}", flush=True)


def _summary(name, trace, burn_in, gradients, seconds, chains):
    kept = {k: v[burn_in:] for k, v in trace.items()}
    means = kept["plaquette"].mean(0)
    tau_p, err_p = integrated_autocorrelation_time(kept["plaquette"])
    tau_q, err_q = integrated_autocorrelation_time(kept["charge"])
    print(f"{name} | {gradients} | {means.mean():.5f} +- {means.std(ddof=1) / np.sqrt(len(means)):.5f} | "
          f"{kept['accepted'].mean():.2f} | {tau_p:.3g} +- {err_p:.2g} | {tau_p * gradients:.3g} +- "
          f"{err_p * gradients:.2g} | {tau_q:.3g} +- {err_q:.2g} | {tau_q * gradients:.3g} +- "
          f"{err_q * gradients:.2g} | {chains * len(trace['plaquette']) / seconds:.2f}", flush=True)
    return tau_p * gradients, tau_q * gradients


def autocorrelation_part(args):
    size, precision = args.autocorrelation_size, args.autocorrelation_precision
    dtype = DTYPES[precision][0]
    lattice = SU3Lattice(size, size, size, size, beta=args.beta)
    beta = tf.constant(args.beta, dtype)
    begin = time.perf_counter()
    kernel = _hmc(lattice, args, beta, args.thermalize, tf.constant(args.eps, dtype))
    start, results, trace, _ = _sample(kernel, lattice, lattice.identity_links(args.chains, dtype),
                                       args.thermalize, args.seed, lambda r: r.inner_results.is_accepted)
    step_size = float(np.mean(results.new_step_size.numpy()))
    print(f"{size}^4 SU(3) at beta {args.beta:g} ({precision}), {args.chains} chains: thermalized by "
          f"{args.thermalize} HMC trajectories from a cold start in {time.perf_counter() - begin:.0f} s "
          f"(plaquette {trace['plaquette'][-1].mean():.4f}, tuned step {step_size:.3f})", flush=True)

    trainer = build_trainer(_config(args, size, precision, args.chains), Distributed(use_horovod=False))
    trainer.chains.assign(start)
    begin = time.perf_counter()
    for step in range(1, args.train_steps + 1):
        metrics = trainer.step(step)
        if step % max(1, args.train_steps // 6) == 0 or step in (1, args.train_steps):
            print(f"  training step {step}: loss {float(metrics['loss']):.4g}, acceptance "
                  f"{float(metrics['acceptance']):.2f}, |dQ| {float(metrics['dq_int']):.3g}, "
                  f"eps_x {float(metrics['eps_x']):.3f}", flush=True)
    print(f"trained {args.train_steps} steps in {time.perf_counter() - begin:.0f} s", flush=True)

    print("sampler | gradients/trajectory | plaquette | acceptance | tau_int(plaquette) | per gradient"
          " | tau_int(Q clover) | per gradient | trajectories/s")
    total = args.burn_in + args.steps
    kernel = _hmc(lattice, args, beta, args.burn_in, tf.constant(step_size, dtype))
    _, results, trace, seconds = _sample(kernel, lattice, start, total, args.seed + 1,
                                         lambda r: r.inner_results.is_accepted)
    hmc = _summary(f"HMC (step {float(np.mean(results.new_step_size.numpy())):.3f})", trace,
                   args.burn_in, args.num_leapfrog_steps, seconds, args.chains)
    kernel = l2hmc_kernel(trainer.dynamics, lattice, beta=beta)
    _, _, trace, seconds = _sample(kernel, lattice, start, total, args.seed + 2, lambda r: r.is_accepted)
    l2 = _summary("L2HMC", trace, args.burn_in, args.nleapfrog + 1, seconds, args.chains)
    print(f"HMC / L2HMC cost per independent sample (gradient evaluations): plaquette "
          f"{hmc[0] / l2[0]:.2f}x, charge {hmc[1] / l2[1]:.2f}x (> 1: L2HMC cheaper)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("throughput", "autocorrelation", "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="4^4 only, short runs")
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "fp64"])
    parser.add_argument("--beta", type=float, default=6.0)
    parser.add_argument("--chains", type=int, default=16)
    parser.add_argument("--num_leapfrog_steps", type=int, default=10)
    parser.add_argument("--nleapfrog", type=int, default=4)
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--units", type=int, nargs="+", default=[32])
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate of the training")
    parser.add_argument("--throughput_trajectories", type=int, default=5)
    parser.add_argument("--throughput_train_steps", type=int, default=3)
    parser.add_argument("--autocorrelation_size", type=int, default=4)
    parser.add_argument("--autocorrelation_precision", default="fp64")
    parser.add_argument("--thermalize", type=int, default=100)
    parser.add_argument("--train_steps", type=int, default=100)
    parser.add_argument("--burn_in", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.chains, args.thermalize, args.train_steps = [4], 8, 40, 20
        args.steps, args.burn_in, args.throughput_trajectories = 60, 10, 3
    print(f"devices: {tf.config.list_physical_devices('GPU') or 'CPU'}; intra-op threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}", flush=True)
    for part in ("throughput", "autocorrelation"):
        if args.part in (part, "all"):
            globals()[f"{part}_part"](args)


if __name__ == "__main__":
    main()
