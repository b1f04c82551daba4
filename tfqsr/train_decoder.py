"""Train a transformer quantum state by variational Monte Carlo.

    python -m tfqsr.train_decoder -s 100 -d 2 -h 4 [--flagfile=flags/train_decoder/tfim100.flags]

Short flags keep the original transformer-quantum-states code's names: -s system size,
-d dictionary size (2^w for tokens of w spins), -h heads, -r layers, -w warm-up steps, -e seed,
-c relative-position clipping distance. Choosing --optimizer brings its defaults for --lr,
--lr_schedule, -w and the --diag_shift flags (Adam: 1e-3 with the 1/sqrt(step) warm-up
schedule; sr, minsr: a constant 0.05 after 20 warm-up steps, a diagonal shift decaying from
0.01 to 0.001); flags given explicitly win. Re-running with the same --run_dir resumes; another
configuration in an existing run directory is refused unless --overwrite.

From Python: ``tfqsr.train_decoder.run(VMCConfig(...), run_dir)``.
"""
import dataclasses
import os

from absl import flags

from tfqsr.runtime import cli, experiment
from tfqsr.vmc.config import SHORT_NAMES, VMCConfig
from tfqsr.vmc.optimizer_flags import define_optimizer_flags

FLAGS = flags.FLAGS
# Changing these continues a run instead of starting another one.
RESUMABLE_FIELDS = ("steps", "checkpoint_every")


def define_flags():
    """Define the flags (in a function, so importing this module has no side effects)."""
    d = VMCConfig()
    short = SHORT_NAMES
    flags.DEFINE_integer("system_size", d.system_size, "Number of spins N.", short_name=short["system_size"])
    flags.DEFINE_integer("dictionary_size", d.dictionary_size,
                         "Words per token, 2^w for tokens of w spins.", short_name=short["dictionary_size"])
    flags.DEFINE_integer("num_heads", d.num_heads, "Attention heads.", short_name=short["num_heads"])
    flags.DEFINE_integer("num_layers", d.num_layers, "Decoder layers.", short_name=short["num_layers"])
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
    define_optimizer_flags(d, short_names=short)
    flags.DEFINE_integer("chunk_size", d.chunk_size,
                         "Samples per log-psi call on connected configurations (0: all at once).")
    flags.DEFINE_integer("checkpoint_every", d.checkpoint_every, "Steps between checkpoints.")
    cli.define_run_flags("Run directory (default runs/<hamiltonian><N>).")


def config_from_flags():
    """The VMCConfig of the flags (unset method-dependent flags stay None: see ``resolve``)."""
    return VMCConfig(**{f.name: FLAGS[f.name].value for f in dataclasses.fields(VMCConfig)})


def check(config, run_dir, *, overwrite=False):
    """The checked ``RunPlan`` of ``config`` in ``run_dir`` (ConfigError otherwise; writes nothing)."""
    return experiment.check_run(config, run_dir, overwrite=overwrite, resumable=RESUMABLE_FIELDS)


def train(plan, *, verbose=1, distributed=None):
    """Train and export the run of a checked ``plan``; returns ("completed" | "interrupted", last step)."""
    from tfqsr.vmc.trainer import vmc_experiment
    return experiment.run_experiment(plan, vmc_experiment, verbose=verbose, distributed=distributed)


def run(config, run_dir, *, overwrite=False, verbose=1, distributed=None):
    """Validate, train ``config`` in ``run_dir`` (resuming) and export the model.

    Returns ("completed" | "interrupted", last step). Raises ConfigError for invalid input
    before any file is written.
    """
    return train(check(config, run_dir, overwrite=overwrite), verbose=verbose, distributed=distributed)


def _summary(run_dir):
    from tfqsr.runtime.logging import read_metrics
    last = read_metrics(run_dir)[-1]
    text = f"step {last['step']}: energy {last['energy']:.6f} +- {last['energy_error']:.6f}"
    if last.get("exact_energy") is not None:
        text += f", exact {last['exact_energy']:.6f}, relative error {last['relative_error']:.2e}"
    return text


def validate():
    config = config_from_flags()
    run_dir = FLAGS.run_dir or os.path.join("runs", f"{config.hamiltonian}{config.system_size}")
    return check(config, run_dir, overwrite=FLAGS.overwrite)


def main(plan):
    from tfqsr.runtime.distributed import Distributed
    distributed = Distributed()
    outcome, step = train(plan, verbose=FLAGS.verbose, distributed=distributed)
    if distributed.is_chief:
        print(_summary(plan.run_dir))
        if outcome == "interrupted":
            print(f"interrupted after step {step}; run the same command again to resume", flush=True)
    return 0 if outcome == "completed" else 130


COMMAND = cli.Command(validate=validate, main=main, define_flags=define_flags)

if __name__ == "__main__":
    cli.run(COMMAND)
