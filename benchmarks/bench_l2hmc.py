"""L2HMC against tuned HMC (issue 14): tau_int(Q_int) per gradient evaluation on the lattice,
ESS per gradient evaluation on the strongly correlated Gaussian, and training throughput.

    python benchmarks/bench_l2hmc.py --part=lattice --l2hmc_run=runs/l2hmc_16x16   # beta 4..7
    python benchmarks/bench_l2hmc.py --part=toy                                    # SCG gain
    python benchmarks/bench_l2hmc.py --part=toy --toy_target=mixture               # or rough_well
    python benchmarks/bench_l2hmc.py --part=throughput                             # trajectories/s
    python benchmarks/bench_l2hmc.py --part=all --quick                            # minutes, 8x8

lattice: for each --betas, tuned HMC (TFP HMC, --num_leapfrog_steps gradient evaluations per
trajectory, step size by dual averaging over the burn-in) and, with --l2hmc_run (a run trained
by ``python -m tfqsr.l2hmc train``, e.g. the u1_16x16 preset), the trained sampler; prints
tau_int(Q_int) in trajectories and per gradient evaluation, with errors, and the ratio (target:
L2HMC at least 2x better at beta = 5 and 6). toy: trains the sampler on the correlated Gaussian
(``tfqsr.l2hmc.toy``: the reference notebook's loss with its burn-in term, lambda 0.1, 5000
steps) and prints ESS per gradient evaluation of it and of HMC tuned at 10, 20, 40 and 80
leapfrog steps (and the paper's untuned 10 x 0.15), and the gains (target >= 50; the paper
reports up to 106x, against the untuned HMC); --toy_target=mixture|rough_well the same on the
other toy targets (every sampler starts from ``target.sample``: exact for the mixture; N(0, I)
for the rough well, which has no closed-form sampler, with a burn-in --toy_inexact_burn_in_factor
times longer). throughput: training steps/s and trajectories/s of the trainer.
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from tfqsr.l2hmc import evaluation  # noqa: E402
from tfqsr.l2hmc.config import L2HMCConfig  # noqa: E402
from tfqsr.l2hmc.lattice import U1Lattice  # noqa: E402
from tfqsr.l2hmc.targets import TARGETS  # noqa: E402
from tfqsr.l2hmc.toy import compare_with_hmc, train_toy  # noqa: E402
from tfqsr.l2hmc.trainer import build_trainer, load_dynamics  # noqa: E402
from tfqsr.runtime.distributed import Distributed  # noqa: E402
from tfqsr.runtime.rundir import read_config  # noqa: E402


def lattice_part(args):
    dynamics = load_dynamics(os.path.join(args.l2hmc_run, "export")) if args.l2hmc_run else None
    merge = bool(read_config(args.l2hmc_run)["merge_directions"]) if args.l2hmc_run else False
    print(f"{args.nt}x{args.nx}, {args.chains} chains, {args.steps} trajectories after {args.burn_in}")
    print("beta | HMC tau (traj) | HMC tau x grads | L2HMC tau (traj) | L2HMC tau x grads | gain")
    for beta in args.betas:
        lattice = U1Lattice(args.nt, args.nx, beta)
        common = dict(beta=beta, chains=args.chains, steps=args.steps, burn_in=args.burn_in)
        _, hmc = evaluation.sample_hmc(lattice, num_leapfrog_steps=args.num_leapfrog_steps, **common)
        line = (f"{beta:g} | {hmc['tau_int']:.3g} +- {hmc['tau_int_error']:.2g} | "
                f"{hmc['tau_int_gradients']:.3g} +- {hmc['tau_int_gradients_error']:.2g}")
        if dynamics is not None:
            _, l2 = evaluation.sample_l2hmc(dynamics, lattice, merge_directions=merge, **common)
            line += (f" | {l2['tau_int']:.3g} +- {l2['tau_int_error']:.2g} | {l2['tau_int_gradients']:.3g}"
                     f" +- {l2['tau_int_gradients_error']:.2g} | "
                     f"{hmc['tau_int_gradients'] / l2['tau_int_gradients']:.2f}x")
        print(line, f"(HMC step {hmc['step_size']:.3f}, acceptance {hmc['acceptance']:.2f}, "
                    f"plaquette {hmc['plaquette']:.4f} +- {hmc['plaquette_error']:.4f} vs "
                    f"{hmc['exact_plaquette']:.4f})", flush=True)


def toy_part(args):
    target = TARGETS[args.toy_target]()
    name = args.toy_target.replace("_", " ")
    burn_in = args.toy_burn_in
    if not target.exact_sampler:
        burn_in *= args.toy_inexact_burn_in_factor
        print(f"{name}: no exact sampler, chains start from N(0, I) (the eta -> 0 limit); "
              f"burn-in {burn_in} trajectories", flush=True)
    start = time.perf_counter()
    dynamics, history = train_toy(target, steps=args.toy_train_steps, chains=args.toy_chains,
                                  nleapfrog=10, eps=0.1, scale=args.toy_scale,
                                  jit_compile=args.toy_xla, log_every=args.toy_log_every)
    losses = history["loss"]
    print(f"{name}: trained {args.toy_train_steps} steps in "
          f"{time.perf_counter() - start:.0f} s (loss {losses[0]:.3g} -> {losses[-100:].mean():.3g}, "
          f"acceptance {history['acceptance'][-100:].mean():.2f} over the last 100 steps)", flush=True)
    result = compare_with_hmc(target, dynamics, chains=args.toy_chains, steps=args.toy_steps,
                              burn_in=burn_in, hmc_leapfrog_steps=args.toy_hmc_leapfrog)
    print("sampler | gradient evaluations | step size | acceptance | ESS/grad (tfp, min coordinate)"
          " | ESS/grad (reference notebook's estimator)")

    def row(name, r):
        print(f"{name} | {r['gradient_evaluations']} | {r.get('step_size', float('nan')):.3f} | "
              f"{r['acceptance']:.2f} | {r['ess']:.3g} | {r['reference_ess']:.3g}")
    row("L2HMC", result["l2hmc"])
    for n, r in result["hmc"].items():
        row(f"HMC {n} steps, tuned step", r)
    row("HMC, the paper's (10 steps of 0.15)", result["paper_hmc"])
    print(f"gain over the best tuned HMC ({result['best_hmc']} steps): {result['gain']:.2f}x "
          f"(reference estimator {result['reference_gain']:.2f}x); over the paper's HMC: "
          f"{result['paper_gain']:.2f}x (target >= 50)", flush=True)


def throughput_part(args):
    config = L2HMCConfig(nt=args.nt, nx=args.nx, chains=args.chains, nleapfrog=args.nleapfrog,
                         conv_filters=(16, 32), conv_sizes=(3, 3), units=(256, 256)).validate()
    trainer = build_trainer(config, Distributed(use_horovod=False))
    start = time.perf_counter()
    trainer.step(1)
    first = time.perf_counter() - start
    steps = 3 if args.quick else 10
    start = time.perf_counter()
    for step in range(2, steps + 2):
        trainer.step(step)
    seconds = (time.perf_counter() - start) / steps
    print(f"training {args.nt}x{args.nx}, {args.chains} chains, {args.nleapfrog} leapfrog steps, "
          f"networks (16,32)/(256,256): first step {first:.1f} s (tracing), then {seconds:.2f} s/step "
          f"= {args.chains / seconds:.1f} trajectories/s ({tf.config.list_physical_devices('GPU') or 'CPU'})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("lattice", "toy", "throughput", "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="8x8, beta 2 and 3, short runs")
    parser.add_argument("--nt", type=int, default=16)
    parser.add_argument("--nx", type=int, default=16)
    parser.add_argument("--betas", type=float, nargs="+", default=[4.0, 5.0, 6.0, 7.0])
    parser.add_argument("--chains", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--burn_in", type=int, default=500)
    parser.add_argument("--num_leapfrog_steps", type=int, default=10)
    parser.add_argument("--nleapfrog", type=int, default=10)
    parser.add_argument("--l2hmc_run", default=None, help="a trained run directory (lattice part)")
    parser.add_argument("--toy_target", choices=sorted(TARGETS), default="correlated_gaussian")
    parser.add_argument("--toy_train_steps", type=int, default=5000)
    parser.add_argument("--toy_chains", type=int, default=200)
    parser.add_argument("--toy_scale", type=float, default=0.1, help="lambda of the loss")
    parser.add_argument("--toy_steps", type=int, default=2000, help="measured trajectories")
    parser.add_argument("--toy_burn_in", type=int, default=500)
    parser.add_argument("--toy_inexact_burn_in_factor", type=int, default=4,
                        help="burn-in multiplier for a target without an exact sampler (rough well)")
    parser.add_argument("--toy_hmc_leapfrog", type=int, nargs="+", default=[10, 20, 40, 80])
    parser.add_argument("--toy_xla", action="store_true", help="XLA-compile the training step")
    parser.add_argument("--toy_log_every", type=int, default=500)
    args = parser.parse_args()
    if args.quick:
        args.nt = args.nx = 8
        args.betas, args.chains, args.steps, args.burn_in = [2.0, 3.0], 32, 300, 100
        args.nleapfrog, args.toy_train_steps, args.toy_chains = 4, 200, 100
        args.toy_steps, args.toy_burn_in, args.toy_hmc_leapfrog = 300, 100, [10, 40]
    for part in ("throughput", "lattice", "toy"):
        if args.part in (part, "all"):
            globals()[f"{part}_part"](args)


if __name__ == "__main__":
    main()
