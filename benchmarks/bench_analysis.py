"""Seconds for the full analysis (python -m tfqsr.analyze) of an N=100, d=2 transformer.

    python benchmarks/bench_analysis.py [--n_samples 10000] [--offdiagonal_samples 1000] ...

Builds a run directory holding an untrained exported model (the cost does not depend on the
weights) and runs ``tfqsr.analysis.report.analyze_run`` once, printing the wall time of each
stage and the total. Target (issue): under 2 minutes on 2 cores for 10,000 samples.
"""
import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system_size", type=int, default=100)
    parser.add_argument("--dictionary_size", type=int, default=2)
    parser.add_argument("--hamiltonian", default="tfim")
    parser.add_argument("--n_samples", type=int, default=10000)
    parser.add_argument("--offdiagonal_samples", type=int, default=1000)
    parser.add_argument("--saliency_samples", type=int, default=32)
    parser.add_argument("--saliency_steps", type=int, default=16)
    parser.add_argument("--max_distance", type=int, default=20)
    parser.add_argument("--xx_pairs_per_distance", type=int, default=4)
    parser.add_argument("--intra_op_threads", type=int, default=1)
    parser.add_argument("--inter_op_threads", type=int, default=0)
    args = parser.parse_args()

    from tfqsr.runtime import threads
    threads.configure(args.intra_op_threads, args.inter_op_threads)  # as python -m tfqsr.analyze

    from tfqsr.analysis.report import AnalysisOptions, analyze_run
    from tfqsr.runtime.export import export_wavefunction
    from tfqsr.runtime.rundir import prepare_run_dir
    from tfqsr.vmc.config import VMCConfig, build_model

    config = VMCConfig(system_size=args.system_size, dictionary_size=args.dictionary_size,
                       hamiltonian=args.hamiltonian).validate()
    with tempfile.TemporaryDirectory() as run_dir:
        prepare_run_dir(run_dir, config.to_dict(), "new")
        export_wavefunction(build_model(config), os.path.join(run_dir, "export"))
        options = AnalysisOptions(
            n_samples=args.n_samples, offdiagonal_samples=args.offdiagonal_samples,
            saliency_samples=args.saliency_samples, saliency_steps=args.saliency_steps,
            max_distance=args.max_distance, xx_pairs_per_distance=args.xx_pairs_per_distance)
        start = time.perf_counter()
        summary = analyze_run(run_dir, options, verbose=0)
        total = time.perf_counter() - start
    print(f"N={args.system_size} d={args.dictionary_size} {args.hamiltonian}: {options}")
    for name, seconds in summary["seconds"].items():
        print(f"  {name:<14s} {seconds:8.1f} s")
    print(f"full analysis: {total:.1f} s (target < 120 s on 2 cores)")


if __name__ == "__main__":
    main()
