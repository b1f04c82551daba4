"""Measure a trained wavefunction: energy, correlations, Rényi entropies and saliency maps.

    python -m tfqsr.analyze --run_dir=runs/tfim10 [--flagfile=flags/analyze/default.flags]

Loads RUN/export/model.keras and the Hamiltonian of RUN/config.json and writes JSON and PNG
plots to RUN/analysis/ (see ``tfqsr.analysis.report``). All flags are checked before any work;
a bad value exits with status 2 and one message naming the flag. Under ``horovodrun -np K``
each rank draws and evaluates its share of the samples with its own seed stream, the estimates
are combined exactly over the ranks, and rank 0 writes.

From Python: ``tfqsr.analysis.report.analyze_run(run_dir, AnalysisOptions(...))``.
"""
import os

from absl import flags

from tfqsr.runtime import cli
from tfqsr.validation import require

FLAGS = flags.FLAGS


def define_flags():
    """Define the flags (in a function, so importing this module has no side effects)."""
    cli.define_run_flags("Run directory of python -m tfqsr.train_decoder (with export/).",
                         verbose="1 progress bars, 0 silent.", overwrite=None)
    flags.DEFINE_integer("n_samples", 10000, "Samples for the diagonal observables (Z, ZZ).")
    flags.DEFINE_integer("offdiagonal_samples", 1000,
                         "How many of them feed the estimators that evaluate psi elsewhere: energy, "
                         "X, XX and the swap estimator (split into --renyi_order replicas).")
    flags.DEFINE_integer("seed", 0, "Seed of the stateless sampler.")
    flags.DEFINE_integer("saliency_samples", 32, "Samples averaged in the saliency maps.")
    flags.DEFINE_integer("saliency_steps", 16,
                         "Midpoint Riemann steps of the integrated attention x gradient.")
    flags.DEFINE_integer("max_distance", None, "Largest |i - j| of the pair correlations (default all).")
    flags.DEFINE_integer("xx_pairs_per_distance", None,
                         "XX from this many stratified random pairs per distance and sample "
                         "(distance curve only) instead of all pairs (default).")
    flags.DEFINE_integer("renyi_order", 2, "Rényi index n >= 2 of the entropies of every cut.")
    flags.DEFINE_integer("batch_size", 1024, "Configurations per call of the model (memory).")


def validate():
    """Validate every flag (before TensorFlow loads) and return (run_dir, the keyword arguments
    of AnalysisOptions)."""
    run_dir = FLAGS.run_dir
    require(run_dir is not None and os.path.isdir(run_dir), "run_dir", "an existing run directory",
            run_dir)
    for name in ("config.json", os.path.join("export", "model.keras")):
        require(os.path.exists(os.path.join(run_dir, name)), "run_dir",
                f"a run directory with {name} (a completed python -m tfqsr.train_decoder run)", run_dir)

    def check(condition, field, allowed):
        require(condition, field, allowed, FLAGS[field].value)

    check(FLAGS.n_samples >= 1, "n_samples", "an integer >= 1")
    check(FLAGS.renyi_order >= 2, "renyi_order", "an integer >= 2")
    check(2 * FLAGS.renyi_order <= FLAGS.offdiagonal_samples <= FLAGS.n_samples, "offdiagonal_samples",
          f"an integer in [2 * --renyi_order, --n_samples] = [{2 * FLAGS.renyi_order}, {FLAGS.n_samples}]")
    check(1 <= FLAGS.saliency_samples <= FLAGS.n_samples, "saliency_samples",
          f"an integer in [1, --n_samples={FLAGS.n_samples}]")
    check(FLAGS.saliency_steps >= 1, "saliency_steps", "an integer >= 1")
    check(FLAGS.max_distance is None or FLAGS.max_distance >= 1, "max_distance", "an integer >= 1")
    check(FLAGS.xx_pairs_per_distance is None or FLAGS.xx_pairs_per_distance >= 1,
          "xx_pairs_per_distance", "an integer >= 1")
    check(FLAGS.batch_size >= 1, "batch_size", "an integer >= 1")
    return run_dir, dict(
        n_samples=FLAGS.n_samples, offdiagonal_samples=FLAGS.offdiagonal_samples, seed=FLAGS.seed,
        saliency_samples=FLAGS.saliency_samples, saliency_steps=FLAGS.saliency_steps,
        max_distance=FLAGS.max_distance, xx_pairs_per_distance=FLAGS.xx_pairs_per_distance,
        renyi_order=FLAGS.renyi_order, batch_size=FLAGS.batch_size)


def main(plan):
    run_dir, options = plan
    from tfqsr.analysis.report import AnalysisOptions, analyze_run
    from tfqsr.runtime.distributed import Distributed
    distributed = Distributed()
    summary = analyze_run(run_dir, AnalysisOptions(**options), verbose=FLAGS.verbose,
                          distributed=distributed)
    if distributed.is_chief:
        text = f"energy {summary['energy']:.6f} +- {summary['energy_error']:.6f}"
        if summary["exact_energy"] is not None:
            text += f", exact {summary['exact_energy']:.6f}, relative error {summary['relative_error']:.2e}"
        print(f"{text}; results in {os.path.join(run_dir, 'analysis')}")
    return 0


COMMAND = cli.Command(validate=validate, main=main, define_flags=define_flags)

if __name__ == "__main__":
    cli.run(COMMAND)
