"""Train a transformer quantum state by variational Monte Carlo.

    python -m tfqsr.train_decoder -s 100 -d 2 -h 4 [--flagfile=flags/tfim100.flags]

Short flags keep the original transformer-quantum-states code's names: -s system size,
-d dictionary size (2^w for tokens of w spins), -h heads, -r layers, -w warm-up steps, -e seed,
-c relative-position clipping distance. Re-running with the same --run_dir resumes; another
configuration in an existing run directory is refused unless --overwrite.

From Python: ``tfqsr.train_decoder.run(VMCConfig(...), run_dir)``.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

from absl import flags  # noqa: E402

from tfqsr.runtime import cli, threads
from tfqsr.validation import ConfigError
from tfqsr.runtime.rundir import RunDirectoryError, check_run_dir, prepare_run_dir
from tfqsr.vmc import config as vmc_config

FLAGS = flags.FLAGS
# Changing these continues a run instead of starting another one.
RESUMABLE_FIELDS = ("steps", "checkpoint_every")


def define_flags():
    """Define the flags (in a function, so importing this module has no side effects)."""
    d = vmc_config.VMCConfig()
    short = vmc_config.SHORT_NAMES
    flags.DEFINE_integer("system_size", d.system_size, "Number of spins N.", short_name=short["system_size"])
    flags.DEFINE_integer("dictionary_size", d.dictionary_size,
                         "Words per token, 2^w for tokens of w spins.", short_name=short["dictionary_size"])
    flags.DEFINE_integer("num_heads", d.num_heads, "Attention heads.", short_name=short["num_heads"])
    flags.DEFINE_integer("num_layers", d.num_layers, "Decoder layers.", short_name=short["num_layers"])
    flags.DEFINE_integer("warmup_steps", d.warmup_steps, "Learning-rate warm-up steps.",
                         short_name=short["warmup_steps"])
    flags.DEFINE_integer("seed", d.seed, "Random seed.", short_name=short["seed"])
    flags.DEFINE_integer("clip_distance", d.clip_distance, "Relative-position clipping distance.",
                         short_name=short["clip_distance"])
    flags.DEFINE_integer("d_model", d.d_model, "Transformer width.")
    flags.DEFINE_string("phase", d.phase, "Phase head: auto (for hs, heisenberg), true, false.")
    flags.DEFINE_string("hamiltonian", d.hamiltonian,
                        "tfim (-J ZZ - h X), mhs (modified Haldane-Shastry), hs, heisenberg.")
    flags.DEFINE_string("boundary", d.boundary, "open or periodic (tfim, heisenberg; HS is periodic).")
    flags.DEFINE_float("field", d.field, "Transverse field h of the TFIM (J = 1).")
    flags.DEFINE_integer("steps", d.steps, "Total optimization steps (raise it to continue a run).")
    flags.DEFINE_integer("batch_size", d.batch_size, "Samples per step and per process.")
    flags.DEFINE_float("lr", d.lr, "Peak learning rate (reached after the warm-up).")
    flags.DEFINE_string("lr_schedule", d.lr_schedule,
                        f"One of {', '.join(vmc_config.LR_SCHEDULES)}: linear warm-up over -w steps to "
                        "--lr, then 1/sqrt(step) decay (warmup) or --lr (constant; -w 0: no warm-up).")
    flags.DEFINE_string("optimizer", d.optimizer, f"One of {', '.join(vmc_config.OPTIMIZERS)} "
                        "(sr, minsr: natural gradient (S + lambda I)^-1 F with SGD at --lr).")
    flags.DEFINE_float("diag_shift", d.diag_shift, "sr/minsr: initial diagonal shift lambda.")
    flags.DEFINE_float("diag_shift_decay", d.diag_shift_decay,
                       "sr/minsr: lambda(step) = max(--diag_shift_min, --diag_shift * decay^step).")
    flags.DEFINE_float("diag_shift_min", d.diag_shift_min, "sr/minsr: smallest diagonal shift.")
    flags.DEFINE_string("sr_solver", d.sr_solver,
                        f"sr/minsr: one of {', '.join(vmc_config.SR_SOLVERS)} (eigh, conjugate gradients).")
    flags.DEFINE_integer("jacobian_chunk_size", d.jacobian_chunk_size,
                         "sr/minsr: samples per per-sample-gradient (jacobian) call.")
    flags.DEFINE_integer("chunk_size", d.chunk_size,
                         "Samples per log-psi call on connected configurations (0: all at once).")
    flags.DEFINE_integer("checkpoint_every", d.checkpoint_every, "Steps between checkpoints.")
    flags.DEFINE_string("run_dir", None, "Run directory (default runs/<hamiltonian><N>).")
    flags.DEFINE_boolean("overwrite", False, "Replace a run directory holding another configuration.")
    flags.DEFINE_integer("verbose", 1, "1 progress bar, 2 one line per step, 0 silent.")
    threads.define_flags()


def config_from_flags():
    """The VMCConfig of the flags, with every flag validated (ConfigError otherwise)."""
    fields = {f.name: FLAGS[f.name].value for f in vmc_config.dataclasses.fields(vmc_config.VMCConfig)}
    config = vmc_config.VMCConfig(**fields).validate()
    threads.check(FLAGS.intra_op_threads, FLAGS.inter_op_threads)
    return config


def run(config, run_dir, *, overwrite=False, verbose=1, distributed=None):
    """Validate, train ``config`` in ``run_dir`` (resuming) and export the model.

    Returns ("completed" | "interrupted", last step). Raises ConfigError for invalid input
    before any file is written.
    """
    config.validate()
    try:
        mode = check_run_dir(run_dir, config.to_dict(), overwrite, RESUMABLE_FIELDS,
                             defaults=vmc_config.VMCConfig().to_dict())
    except RunDirectoryError as error:
        raise ConfigError(f"--run_dir: {error}") from None
    # Imported after validation so that bad input is reported before TensorFlow loads.
    import keras
    from tfqsr import exact
    from tfqsr.runtime.distributed import Distributed
    from tfqsr.runtime.export import export_wavefunction
    from tfqsr.vmc.trainer import VMCTrainer

    distributed = distributed or Distributed()
    hamiltonian = vmc_config.build_hamiltonian(config)
    exact_energy = exact.exact_energy(hamiltonian)
    distributed.barrier()  # every rank has checked run_dir before rank 0 writes into it
    if distributed.is_chief:
        prepare_run_dir(run_dir, config.to_dict(), mode)
        reference = "unknown" if exact_energy is None else f"{exact_energy:.10f}"
        print(f"{hamiltonian!r}: exact energy {reference}; run directory {run_dir} ({mode})", flush=True)
    keras.utils.set_random_seed(config.seed)  # the initial weights follow from the seed
    model = vmc_config.build_model(config)
    trainer = VMCTrainer(model, hamiltonian, batch_size=config.batch_size,
                         optimizer=vmc_config.build_optimizer(config), seed=config.seed,
                         chunk_size=config.chunk_size or None, distributed=distributed,
                         exact_energy=exact_energy,
                         preconditioner=vmc_config.build_preconditioner(config))
    outcome, step = trainer.fit(config.steps, run_dir, checkpoint_every=config.checkpoint_every,
                                verbose=verbose)
    if outcome == "completed" and distributed.is_chief:
        export_wavefunction(model, os.path.join(run_dir, "export"))
    return outcome, step


def _summary(run_dir):
    from tfqsr.runtime.logging import read_metrics
    last = read_metrics(run_dir)[-1]
    text = f"step {last['step']}: energy {last['energy']:.6f} +- {last['energy_error']:.6f}"
    if last.get("exact_energy") is not None:
        text += f", exact {last['exact_energy']:.6f}, relative error {last['relative_error']:.2e}"
    return text


def main(argv):
    if len(argv) > 1:
        raise ConfigError(f"unexpected positional arguments {argv[1:]}; all options are flags")
    config = config_from_flags()
    threads.configure(FLAGS.intra_op_threads, FLAGS.inter_op_threads)
    run_dir = FLAGS.run_dir or os.path.join("runs", f"{config.hamiltonian}{config.system_size}")
    from tfqsr.runtime.distributed import Distributed
    distributed = Distributed()
    outcome, step = run(config, run_dir, overwrite=FLAGS.overwrite, verbose=FLAGS.verbose,
                        distributed=distributed)
    if distributed.is_chief:
        print(_summary(run_dir))
        if outcome == "interrupted":
            print(f"interrupted after step {step}; run the same command again to resume", flush=True)
    return 0 if outcome == "completed" else 130


if __name__ == "__main__":
    define_flags()
    cli.run(main)
