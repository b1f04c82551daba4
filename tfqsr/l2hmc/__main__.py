"""python -m tfqsr.l2hmc train|eval|hmc: train the L2HMC sampler for 2D U(1) or 4D SU(3)
(``--group=su3``), measure it, and measure the HMC baseline.

    python -m tfqsr.l2hmc train --flagfile=flags/l2hmc/u1_8x8.flags --run_dir=runs/l2hmc_8x8
    python -m tfqsr.l2hmc eval --run_dir=runs/l2hmc_8x8 --beta=3 --steps=500
    python -m tfqsr.l2hmc hmc --nt=8 --nx=8 --beta=3 --steps=500 [--out_dir=runs/hmc_8x8_b3]
    python -m tfqsr.l2hmc train --flagfile=flags/l2hmc/su3_4x4x4x4_quick.flags --run_dir=runs/su3
    python -m tfqsr.l2hmc hmc --group=su3 --nt=4 --nx=4 --beta=6 --precision=fp64 --steps=200

Presets leave the command to the command line. train: the run directory holds config.json,
metrics.jsonl, events/, checkpoints/, export/
(the trained dynamics) and training.png; re-running resumes, another configuration is refused
unless --overwrite; SIGINT/SIGTERM checkpoints and stops. Under ``horovodrun -np K`` the chains
are split across the ranks and the gradients averaged. eval: the exported sampler at --beta,
results in RUN/eval_beta<B>/ (summary.json, trace.npz, plots). hmc: tuned HMC, results in
--out_dir when given. Every flag is validated before any work; bad input exits 2 with one line.
"""
import dataclasses
import math
import os

from absl import flags

from tfqsr.l2hmc.config import GROUP_NAMES, PRECISIONS, L2HMCConfig, parse_integers
from tfqsr.runtime import cli, experiment
from tfqsr.runtime.rundir import read_config
from tfqsr.validation import ConfigError, integer, require

FLAGS = flags.FLAGS
RESUMABLE_FIELDS = ("checkpoint_every",)
LIST_FIELDS = ("conv_filters", "conv_sizes", "units")


def define_lattice_flags(nt, nx):
    flags.DEFINE_string("group", "u1", f"Gauge group: {' or '.join(GROUP_NAMES)} (2D U(1), 4D SU(3)).")
    flags.DEFINE_integer("nt", nt, "Lattice extent in time.")
    flags.DEFINE_integer("nx", nx, "Lattice extent in space (x).")
    flags.DEFINE_integer("ny", None, "Extent in y (--group=su3; default --nx).")
    flags.DEFINE_integer("nz", None, "Extent in z (--group=su3; default --nx).")
    flags.DEFINE_float("c1", 0.0, "Rectangle coefficient of the SU(3) action (0 Wilson, -1/12 Symanzik).")


def define_train_flags():
    d = L2HMCConfig()
    define_lattice_flags(d.nt, d.nx)
    flags.DEFINE_float("beta_init", d.beta_init, "Coupling of the first era.")
    flags.DEFINE_float("beta_final", d.beta_final, "Coupling of the last era (linear in eras).")
    flags.DEFINE_integer("eras", d.eras, "Eras (beta constant within one).")
    flags.DEFINE_integer("steps_per_era", d.steps_per_era, "Training steps per era.")
    flags.DEFINE_integer("chains", d.chains, "Chains (all ranks together).")
    flags.DEFINE_integer("nleapfrog", d.nleapfrog, "Leapfrog steps per trajectory.")
    flags.DEFINE_float("eps", d.eps, "Initial step size (learned per step, for x and v).")
    flags.DEFINE_boolean("use_ncp", None, "Non-compact projection position update (else affine; "
                         "default true for u1; su3 has none).")
    flags.DEFINE_boolean("merge_directions", d.merge_directions,
                         "Forward, flip, backward proposals instead of a random direction.")
    flags.DEFINE_list("conv_filters", None, "Filters of the periodic convolutions of the position "
                      "networks (default 8,16 for u1; su3 networks are dense).")
    flags.DEFINE_list("conv_sizes", None, "Their odd kernel sizes (default 3,3 for u1).")
    flags.DEFINE_list("units", ",".join(map(str, d.units)), "Dense layer widths of the networks.")
    flags.DEFINE_float("charge_weight", d.charge_weight, "Weight of the charge loss (0: off).")
    flags.DEFINE_float("plaq_weight", d.plaq_weight, "Weight of the plaquette loss (0: off).")
    flags.DEFINE_float("lr", d.lr, "Adam learning rate.")
    flags.DEFINE_float("clip_norm", d.clip_norm, "Global-norm gradient clipping.")
    flags.DEFINE_string("precision", d.precision,
                        f"One of {', '.join(PRECISIONS)} (fp16: float16 networks, float32 links; "
                        "su3: fp32 or fp64, complex64 or complex128 links).")
    flags.DEFINE_integer("seed", d.seed, "Random seed (weights, masks, chains, proposals).")
    flags.DEFINE_integer("checkpoint_every", d.checkpoint_every, "Steps between checkpoints.")
    cli.define_run_flags("Run directory (default runs/l2hmc_<nt>x<nx>, "
                         "runs/l2hmc_su3_<nt>x<nx>x<ny>x<nz>).",
                         verbose="1 progress, 2 one line per step, 0 silent.")


def define_sampling_flags():
    flags.DEFINE_float("beta", None, "Coupling to sample at.")
    flags.DEFINE_integer("steps", 500, "Trajectories per chain after the burn-in.")
    flags.DEFINE_integer("burn_in", 100, "Trajectories discarded first (HMC tunes its step size there).")
    flags.DEFINE_integer("chains", 64, "Chains.")
    flags.DEFINE_integer("seed", 0, "Random seed.")


def define_eval_flags():
    define_sampling_flags()
    flags.DEFINE_string("run_dir", None, "A completed training run directory.")


def define_hmc_flags():
    define_sampling_flags()
    define_lattice_flags(8, 8)
    flags.DEFINE_integer("num_leapfrog_steps", 10, "Leapfrog steps (gradient evaluations) per trajectory.")
    flags.DEFINE_float("step_size", 0.1, "Initial step size (tuned by dual averaging in the burn-in).")
    flags.DEFINE_float("target_accept", 0.75, "Acceptance the step size is tuned to.")
    flags.DEFINE_string("precision", "fp32", "fp32 or fp64 links.")
    flags.DEFINE_string("out_dir", None, "Directory for summary.json, trace.npz and plots (optional).")
    flags.DEFINE_boolean("overwrite", False, "Replace an existing --out_dir.")


def config_from_flags():
    values = {f.name: FLAGS[f.name].value for f in dataclasses.fields(L2HMCConfig)
              if f.name in FLAGS and f.name not in LIST_FIELDS}
    lists = {name: None if FLAGS[name].value is None else parse_integers(f"--{name}", FLAGS[name].value)
             for name in LIST_FIELDS}
    return L2HMCConfig(**values, **lists)


def lattice_config():
    """The lattice flags of ``hmc`` as a validated configuration (the same checks as train)."""
    return L2HMCConfig(group=FLAGS.group, nt=FLAGS.nt, nx=FLAGS.nx, ny=FLAGS.ny, nz=FLAGS.nz,
                       c1=FLAGS.c1, beta_final=FLAGS.beta, precision=FLAGS.precision).validate()


def _check_sampling_flags():
    require(FLAGS.beta is not None and math.isfinite(FLAGS.beta) and FLAGS.beta >= 0, "beta",
            "a real number >= 0", FLAGS.beta)
    integer("--steps", FLAGS.steps, 2)
    integer("--burn_in", FLAGS.burn_in, 0)
    integer("--chains", FLAGS.chains, 2)


def validate_train():
    config = config_from_flags()
    shape = config.validate().link_shape[1:]
    name = ("l2hmc_su3_" if config.group == "su3" else "l2hmc_") + "x".join(map(str, shape))
    run_dir = FLAGS.run_dir or os.path.join("runs", name)
    return experiment.check_run(config, run_dir, overwrite=FLAGS.overwrite, resumable=RESUMABLE_FIELDS)


def main_train(plan):
    from tfqsr.l2hmc.plots import plot_training
    from tfqsr.l2hmc.trainer import l2hmc_experiment
    from tfqsr.runtime.distributed import Distributed
    from tfqsr.runtime.logging import read_metrics
    distributed = Distributed()
    outcome, step = experiment.run_experiment(plan, l2hmc_experiment, verbose=FLAGS.verbose,
                                              distributed=distributed)
    if distributed.is_chief:
        rows = read_metrics(plan.run_dir)
        plot_training(plan.run_dir, rows)
        last = rows[-1]
        plaquette = (f"plaquette - exact {last['plaquette_error']:+.4f}" if "plaquette_error" in last
                     else f"plaquette {last['plaquette']:.4f}")
        print(f"step {last['step']} at beta {last['beta']:g}: accepted {last['accepted']:.3f}, "
              f"|dQ_int| {last['dq_int']:.3f}, {plaquette}")
        if outcome == "interrupted":
            print(f"interrupted after step {step}; run the same command again to resume", flush=True)
    return 0 if outcome == "completed" else 130


def validate_eval():
    _check_sampling_flags()
    require(FLAGS.run_dir is not None, "run_dir", "a training run directory", FLAGS.run_dir)
    config = read_config(FLAGS.run_dir)
    export = os.path.join(FLAGS.run_dir, experiment.EXPORT_DIR)
    if config is None or not os.path.isdir(export):
        raise ConfigError(f"--run_dir must be a completed training run (config.json and export/), "
                          f"got {FLAGS.run_dir!r}")
    return {"config": L2HMCConfig(**{k: tuple(v) if isinstance(v, list) else v
                                     for k, v in config.items()}),
            "export": export, "out_dir": os.path.join(FLAGS.run_dir, f"eval_beta{FLAGS.beta:g}")}


def main_eval(plan):
    from tfqsr.l2hmc import evaluation
    from tfqsr.l2hmc.trainer import DTYPES, build_lattice, load_dynamics
    config = plan["config"]
    dynamics = load_dynamics(plan["export"])
    trace, summary = evaluation.sample_l2hmc(
        dynamics, build_lattice(config, FLAGS.beta), beta=FLAGS.beta, chains=FLAGS.chains,
        steps=FLAGS.steps, burn_in=FLAGS.burn_in, seed=FLAGS.seed,
        merge_directions=config.merge_directions, dtype=DTYPES[config.precision][0])
    evaluation.write_results(plan["out_dir"], trace, summary)
    print(evaluation.describe(summary))
    print(f"results in {plan['out_dir']}")
    return 0


def validate_hmc():
    _check_sampling_flags()
    integer("--num_leapfrog_steps", FLAGS.num_leapfrog_steps, 1)
    require(FLAGS.step_size > 0, "step_size", "a positive number", FLAGS.step_size)
    require(0 < FLAGS.target_accept < 1, "target_accept", "in (0, 1)", FLAGS.target_accept)
    require(FLAGS.precision in ("fp32", "fp64"), "precision", "fp32 or fp64", FLAGS.precision)
    config = lattice_config()
    if FLAGS.out_dir and os.path.exists(FLAGS.out_dir) and not FLAGS.overwrite:
        raise ConfigError(f"--out_dir {FLAGS.out_dir!r} exists; choose another or pass --overwrite")
    return {"out_dir": FLAGS.out_dir, "config": config}


def main_hmc(plan):
    from tfqsr.l2hmc import evaluation
    from tfqsr.l2hmc.trainer import DTYPES, build_lattice
    trace, summary = evaluation.sample_hmc(
        build_lattice(plan["config"], FLAGS.beta), beta=FLAGS.beta, chains=FLAGS.chains,
        steps=FLAGS.steps, burn_in=FLAGS.burn_in, seed=FLAGS.seed, step_size=FLAGS.step_size,
        num_leapfrog_steps=FLAGS.num_leapfrog_steps, target_accept=FLAGS.target_accept,
        dtype=DTYPES[FLAGS.precision][0])
    if plan["out_dir"]:
        evaluation.write_results(plan["out_dir"], trace, summary)
    print(evaluation.describe(summary) + f", tuned step size {summary['step_size']:.4f}")
    return 0


COMMAND = {
    "train": cli.Command(validate=validate_train, main=main_train, define_flags=define_train_flags),
    "eval": cli.Command(validate=validate_eval, main=main_eval, define_flags=define_eval_flags),
    "hmc": cli.Command(validate=validate_hmc, main=main_hmc, define_flags=define_hmc_flags),
}

if __name__ == "__main__":
    cli.run(COMMAND)
