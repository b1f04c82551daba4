"""Speed and accuracy of VMC for Rydberg arrays with the RNN, PTF and LPTF (issue 11).

    python benchmarks/bench_rydberg.py                          # speed: every model, 8x8 and 16x16
    python benchmarks/bench_rydberg.py --lattices=8 --models=ptf --repeats=1   # reduced
    python benchmarks/bench_rydberg.py --speed=False --accuracy_steps=1200     # the 8x8 accuracy run

Speed, per model and lattice, each case in its own process (so its peak memory is its own):
seconds per VMC step at K = 256 samples (log psi for the gradient by a second pass, and with
sgrad from the sampling pass), local-energy psi evaluations per second (K (N + 1)
connected configurations) with prefix reuse (NLOOPS = number of tokens: each configuration
recomputed from its first changed token) and without (NLOOPS = 1: full passes), and the
process's peak resident memory. Models as in the presets (flags/model_builder/): RNN Nh = 256
and PTF Nh = 128 over 2x2 patches; LPTF Nh = 128 over 4x4 large patches of 2x2 patches with an
RNN subsampler (on 8x8 too).

Accuracy: trains the 8x8 array from the command line with ``--accuracy_preset`` (default
flags/model_builder/rydberg8x8_minsr.flags: a one-layer PTF of width 64 trained by minSR) in
``--run_dir`` (resuming) for ``--accuracy_steps`` steps, then estimates the energy per atom of
the exported model from 10,000 fresh samples with its standard error, against QMC -0.4058(5)
and the best published variational energies (PRNN -0.405706, PTF -0.405626); the target is
within 1e-3 relative of -0.405706 in under an hour on 2 cores.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

from timing import best_time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # this checkout's tfqsr, also in the per-case processes
    sys.path.insert(1, REPO)

MODELS = {
    "rnn": dict(model="rnn", patch="2x2", Nh=256),
    "ptf": dict(model="ptf", patch="2x2", Nh=128, num_layers=2, nhead=8),
    "lptf": dict(model="lptf", patch="4x4", sub_patch="2x2", Nh=128, num_layers=2, nhead=8,
                 sub_model="rnn", sub_Nh=128),
}


def config_of(model, side, K, steps=1, NLOOPS=None):
    from tfqsr.vmc.lattice_config import ModelBuilderConfig
    config = ModelBuilderConfig(L=side * side, K=K, steps=steps, **MODELS[model]).validate()
    return ModelBuilderConfig(**{**config.to_dict(), "NLOOPS": NLOOPS or config.n_tokens}).validate()


def speed_case(model_name, side, K, repeats, full_passes=True):
    """One case, in this process: a JSON line of its figures (without full passes: NaN)."""
    import keras
    import tensorflow as tf
    from tfqsr.operators.grouping import NeighbourGroups
    from tfqsr.vmc.trainer import VMCTrainer

    keras.utils.set_random_seed(0)
    config = config_of(model_name, side, K)
    hamiltonian, model = config.build_hamiltonian(), config.build_model()
    x = model.sample(K, tf.constant([1, 2]))
    evaluations = K * hamiltonian.max_conn
    rates = {"full": float("nan")}
    for label, groups in (("reuse", config.n_tokens), ("full", 1))[:2 if full_passes else 1]:
        grouped = NeighbourGroups(hamiltonian, model.layout, groups)
        start = time.perf_counter()
        grouped.local_energy(model, x).numpy()  # traces (and for the transformers XLA-compiles)
        rates[f"first_{label}"] = time.perf_counter() - start
        seconds = best_time(lambda: grouped.local_energy(model, x).numpy(), repeats)
        rates[label] = evaluations / seconds
    steps = {}
    for sgrad in (False, True):
        trainer = VMCTrainer(model, NeighbourGroups(hamiltonian, model.layout, config.n_tokens), batch_size=K,
                             optimizer=keras.optimizers.Adam(5e-4), sgrad=sgrad)
        steps[sgrad] = best_time(lambda: trainer.step(), repeats)
        if not sgrad:
            assert trainer._step.experimental_get_tracing_count() == 1  # no retracing
    step = steps[False]
    return {"model": model_name, "lattice": f"{side}x{side}", "parameters": model.count_params(),
            "tokens": config.n_tokens, "seconds_per_step": step, "evals_per_s_reuse": rates["reuse"],
            "evals_per_s_full": rates["full"], "reuse_speedup": rates["reuse"] / rates["full"],
            "first_call_s": rates["first_reuse"], "seconds_per_step_sgrad": steps[True],
            "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def speed(models, lattices, K, repeats, full_passes=True):
    print(f"speed at K={K} samples per step, {os.cpu_count()} cores (each case in its own process)")
    header = (f"{'model':<5} {'lattice':>7} {'params':>8} {'tokens':>6} {'s/step':>8} "
              f"{'psi/s reuse':>12} {'psi/s full':>11} {'speed-up':>8} {'peak MB':>8} {'1st call s':>10} {'s/step sgrad':>12}")
    print(header)
    for side in lattices:
        for name in models:
            result = subprocess.run([sys.executable, __file__, f"--case={name}:{side}", f"--K={K}",
                                     f"--repeats={repeats}", f"--full_passes={full_passes}"],
                                    capture_output=True, text=True,
                                    env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
            if result.returncode:
                print(f"{name:<5} {side}x{side}: failed: {result.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"{r['model']:<5} {r['lattice']:>7} {r['parameters']:>8} {r['tokens']:>6} "
                  f"{r['seconds_per_step']:>8.2f} {r['evals_per_s_reuse']:>12.0f} "
                  f"{r['evals_per_s_full']:>11.0f} {r['reuse_speedup']:>7.1f}x {r['peak_memory_mb']:>8.0f} "
                  f"{r['first_call_s']:>10.1f} {r['seconds_per_step_sgrad']:>12.2f}",
                  flush=True)


def accuracy(preset, steps, run_dir, samples=10000, batch=1000):
    """Train ``preset`` for ``steps`` steps in ``run_dir`` from the command line (resuming),
    then estimate the energy per atom of its export from ``samples`` fresh samples."""
    import keras
    import numpy as np
    import tensorflow as tf
    import tfqsr.wavefunctions  # noqa: F401  (registers the classes)
    from tfqsr import operators
    from tfqsr.operators.rydberg import QMC_ENERGY_PER_ATOM, VARIATIONAL_ENERGY_PER_ATOM_8x8

    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tfqsr.model_builder", f"--flagfile={preset}", f"--steps={steps}",
                    f"--run_dir={run_dir}", "--verbose=0"], check=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    elapsed = time.perf_counter() - start
    model = keras.saving.load_model(os.path.join(run_dir, "export", "model.keras"))
    hamiltonian = operators.Rydberg(8, 8)
    e_loc = np.concatenate([hamiltonian.local_energy(model, model.sample(batch, tf.constant([7, i]))).numpy()
                            for i in range(samples // batch)]) / hamiltonian.n_sites
    mean, error = e_loc.mean(), e_loc.std() / np.sqrt(e_loc.size)
    qmc, qmc_error = QMC_ENERGY_PER_ATOM[(8, 8)]
    best = VARIATIONAL_ENERGY_PER_ATOM_8x8["prnn"]
    relative = abs(mean - best) / abs(best)
    print(f"8x8 {os.path.basename(preset)}, {steps} steps ({elapsed / 60:.1f} min of training in this "
          f"call, {os.cpu_count()} cores): E/N = {mean:.6f} +- {error:.6f} from {e_loc.size} fresh samples")
    print(f"  QMC {qmc} +- {qmc_error}: difference {mean - qmc:+.6f}; PRNN {best}: difference "
          f"{mean - best:+.6f}, relative {relative:.2e} (target < 1e-3: "
          f"{'met' if relative < 1e-3 else 'not met'}); PTF {VARIATIONAL_ENERGY_PER_ATOM_8x8['ptf']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="rnn,ptf,lptf")
    parser.add_argument("--lattices", default="8,16", help="sides of the square lattices")
    parser.add_argument("--K", type=int, default=256, help="samples per step")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats (best of) after a warm-up")
    parser.add_argument("--speed", default="True", choices=("True", "False"))
    parser.add_argument("--full_passes", default="True", choices=("True", "False"),
                        help="also time local energies by full passes (their memory grows as K N T)")
    parser.add_argument("--accuracy_steps", type=int, default=0, help="8x8 training steps (0: none)")
    parser.add_argument("--accuracy_preset", default=os.path.join(REPO, "flags", "model_builder",
                                                                  "rydberg8x8_minsr.flags"))
    parser.add_argument("--run_dir", default="runs/bench_rydberg8x8")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        name, side = args.case.split(":")
        print(json.dumps(speed_case(name, int(side), args.K, args.repeats, args.full_passes == "True")))
        return
    if args.speed == "True":
        speed(args.models.split(","), [int(s) for s in args.lattices.split(",")], args.K, args.repeats,
              args.full_passes == "True")
    if args.accuracy_steps:
        accuracy(args.accuracy_preset, args.accuracy_steps, args.run_dir)


if __name__ == "__main__":
    main()
