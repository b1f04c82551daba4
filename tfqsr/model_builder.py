"""Train RNN, patched or large-patched transformer wavefunctions of Rydberg atom arrays by VMC.

    python -m tfqsr.model_builder --L=64 --model=ptf --patch=2x2 --NLOOPS=16 [--flagfile=flags/model_builder/rydberg8x8_ptf.flags]

and the NN-QSR code's own form, unchanged (``key=value`` arguments in groups; training
arguments first or after --train/--training; the model's after --rnn, --ptf or --lptf, an
LPTF's subsampler after it; Hamiltonian parameters after --rydberg or --tfim)::

    python -m tfqsr.model_builder L=64 NLOOPS=16 sgrad=False steps=4000 --ptf _2D=True patch=2
    python -m tfqsr.model_builder L=256 --lptf _2D=True patch=4 --rnn L=16 patch=2 Nh=128

``--help --training`` (or --rnn, --ptf, --lptf, --rydberg, --tfim) describes one group of the
original form. Defaults are the original's: Adam at a constant 5e-4, 12000 steps, K = 256
samples per minibatch (512 for the RNN), Q = 1, NLOOPS = 1. The run directory (default
runs/model_builder/<hamiltonian><Lx>x<Ly>_<model>) resumes when the same command is run again;
another configuration there is refused unless --overwrite.

From Python: ``tfqsr.model_builder.run(ModelBuilderConfig(...), run_dir)``.
"""
import dataclasses
import os
import sys

from absl import flags

from tfqsr.runtime import cli, experiment
from tfqsr.validation import ConfigError
from tfqsr.vmc.lattice_config import (LATTICE_HAMILTONIANS, METHOD_DEFAULTS, MODELS, RNN_TYPES,
                                      SUB_MODELS, ModelBuilderConfig)
from tfqsr.vmc.optimizer_flags import define_optimizer_flags

FLAGS = flags.FLAGS
# Changing these continues a run instead of starting another one.
RESUMABLE_FIELDS = ("steps", "checkpoint_every")


def define_flags():
    """Define the flags (in a function, so importing this module has no side effects)."""
    d = ModelBuilderConfig()
    flags.DEFINE_integer("L", d.L, "Number of atoms; the lattice is sqrt(L) x sqrt(L) unless --Lx, --Ly.")
    flags.DEFINE_integer("Lx", d.Lx, "Rows of the lattice (0: sqrt(L)); with --Ly, Lx * Ly = L.")
    flags.DEFINE_integer("Ly", d.Ly, "Columns of the lattice (0: sqrt(L)).")
    flags.DEFINE_string("hamiltonian", d.hamiltonian, f"One of {', '.join(LATTICE_HAMILTONIANS)}: "
                        "sum V/r^6 n_i n_j - delta sum n_i - Omega/2 sum X_i, or -sum_<ij> Z_i Z_j - field sum X_i.")
    flags.DEFINE_float("V", d.V, "Rydberg: van der Waals strength V (lattice spacing 1).")
    flags.DEFINE_float("omega", d.omega, "Rydberg: Rabi frequency Omega.")
    flags.DEFINE_float("delta", d.delta, "Rydberg: detuning delta.")
    flags.DEFINE_float("field", d.field, "TFIM: transverse field h (J = 1, open boundaries).")
    flags.DEFINE_string("model", d.model, f"One of {', '.join(MODELS)}.")
    flags.DEFINE_string("patch", d.patch, "Patch: p consecutive atoms or a 2D patch pxq (2x2); the "
                        "LPTF's large patch.")
    flags.DEFINE_integer("Nh", None, "RNN hidden size (default 256) or transformer width (128).")
    flags.DEFINE_string("rnntype", d.rnntype, f"RNN cell: one of {', '.join(RNN_TYPES)}.")
    flags.DEFINE_integer("num_layers", d.num_layers, "Transformer layers.")
    flags.DEFINE_integer("nhead", d.nhead, "Attention heads (a divisor of --Nh).")
    flags.DEFINE_alias("nheads", "nhead")
    flags.DEFINE_float("dropout", d.dropout, "Transformer dropout (training mode only).")
    flags.DEFINE_string("sub_model", d.sub_model, f"LPTF subsampler: one of {', '.join(SUB_MODELS)}.")
    flags.DEFINE_string("sub_patch", d.sub_patch, "LPTF: the small patch the subsampler generates "
                        "a large patch in (p: 1 x p).")
    flags.DEFINE_integer("sub_Nh", None, "LPTF subsampler width (an RNN's must equal --Nh).")
    flags.DEFINE_integer("sub_num_layers", d.sub_num_layers, "LPTF PTF subsampler layers.")
    flags.DEFINE_integer("sub_nhead", d.sub_nhead, "LPTF PTF subsampler heads.")
    define_optimizer_flags(d, method_defaults=METHOD_DEFAULTS)
    flags.DEFINE_integer("K", None, "Samples per minibatch (default 256, RNN 512).")
    flags.DEFINE_integer("Q", d.Q, "Minibatches per batch.")
    flags.DEFINE_integer("B", None, "Batch size per process: must be Q*K (default Q*K).")
    flags.DEFINE_integer("NLOOPS", d.NLOOPS, "Groups the single-flip neighbours are evaluated in, each "
                         "recomputed from its first token (a divisor of the number of tokens; "
                         "more: less memory and less recomputation).")
    flags.DEFINE_boolean("sgrad", d.sgrad, "Sample with gradients: log psi for the gradient from the "
                         "sampling pass (True) or recomputed by a second, full pass (False).")
    flags.DEFINE_integer("steps", d.steps, "VMC steps (raise it to continue a run).")
    flags.DEFINE_integer("seed", d.seed, "Random seed.")
    flags.DEFINE_integer("checkpoint_every", d.checkpoint_every, "Steps between checkpoints.")
    flags.DEFINE_float("kl", d.kl, "Weight of the data term: kl * NLL of a minibatch of snapshots.")
    flags.DEFINE_string("data", d.data, "Snapshots (.npz, a 0/1 array [M, L]) for --kl and --pretrain_steps.")
    flags.DEFINE_integer("pretrain_steps", d.pretrain_steps, "Steps on the data alone before VMC.")
    cli.define_run_flags("Run directory (default "
                         "runs/model_builder/<hamiltonian><Lx>x<Ly>_<model>).")


def config_from_flags():
    return ModelBuilderConfig(**{f.name: FLAGS[f.name].value for f in dataclasses.fields(ModelBuilderConfig)})


def check(config, run_dir, *, overwrite=False):
    """The checked ``RunPlan`` of ``config`` in ``run_dir`` (ConfigError otherwise; writes nothing)."""
    return experiment.check_run(config, run_dir, overwrite=overwrite, resumable=RESUMABLE_FIELDS)


def run(config, run_dir, *, overwrite=False, verbose=1, distributed=None):
    """Validate, train ``config`` in ``run_dir`` (resuming) and export the model.

    Returns ("completed" | "interrupted", last step); ConfigError before anything is written.
    """
    from tfqsr.vmc.trainer import vmc_experiment
    plan = check(config, run_dir, overwrite=overwrite)
    return experiment.run_experiment(plan, vmc_experiment, verbose=verbose, distributed=distributed)


def default_run_dir(config):
    lx, ly = config.lattice
    return os.path.join("runs", "model_builder", f"{config.hamiltonian}{lx}x{ly}_{config.model}")


def summary(run_dir):
    """One line: the last step's energy per atom, its reference and their difference."""
    from tfqsr.runtime.logging import read_metrics
    last = read_metrics(run_dir)[-1]
    if "energy_per_atom" not in last:
        return f"step {last['step']}: nll {last['nll']:.6f}"
    text = (f"step {last['step']}: energy per atom {last['energy_per_atom']:.6f} "
            f"+- {last['energy_per_atom_error']:.6f}")
    if last.get("reference_energy_per_atom") is not None:
        text += (f", reference {last['reference_energy_per_atom']:.6f}, "
                 f"difference {last['difference_per_atom']:+.6f}")
    return text


def validate():
    config = config_from_flags()
    resolved = config.validate()
    return check(config, FLAGS.run_dir or default_run_dir(resolved), overwrite=FLAGS.overwrite)


def main(plan):
    from tfqsr.runtime.distributed import Distributed
    from tfqsr.vmc.trainer import vmc_experiment
    distributed = Distributed()
    outcome, step = experiment.run_experiment(plan, vmc_experiment, verbose=FLAGS.verbose,
                                              distributed=distributed)
    if distributed.is_chief:
        print(summary(plan.run_dir))
        if outcome == "interrupted":
            print(f"interrupted after step {step}; run the same command again to resume", flush=True)
    return 0 if outcome == "completed" else 130


def translate(argv):
    """absl flags of the original NN-QSR command line (``tfqsr.vmc.original_form``)."""
    from tfqsr.vmc import original_form
    help_text = original_form.group_help(argv[1:])
    if help_text is not None:
        print(help_text)
        sys.exit(0)
    return argv[:1] + original_form.to_flags(argv[1:])


COMMAND = cli.Command(validate=validate, main=main, define_flags=define_flags)

if __name__ == "__main__":
    cli.run(COMMAND, translate=translate)
