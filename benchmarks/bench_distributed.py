"""Data-parallel throughput with Horovod (issue: distributed training for every entry point).

    python benchmarks/bench_distributed.py                  # 1 and 2 CPU processes (+ GPUs if any)
    python benchmarks/bench_distributed.py --batch 512 --steps 20

Trains the open TFIM chain at N=20 (transformer d=2, h=4, r=2, d_model=32) with the same
per-rank batch in one process (plain python, the fallback) and in 2 processes
(``horovodrun -np 2 -H localhost:2 --gloo``), and prints VMC samples/s (global: ranks x batch
per step), steps/s and the scaling efficiency throughput(2) / (2 x throughput(1)). On CPU each
rank gets cores / ranks intra-op threads, so both runs use the same cores (an efficiency of 0.5
there means the second rank gains nothing). With GPUs, the same is measured with one rank per
GPU. Each run times ``--steps`` steps after ``--warmup`` steps
(tracing and XLA compilation), with all ranks aligned by a barrier before and after.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(args):
    """One rank: time ``args.steps`` VMC steps; rank 0 prints one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from tfqsr import operators
    from tfqsr.runtime.distributed import Distributed
    from tfqsr.vmc import TransformerWarmup, VMCTrainer
    from tfqsr.wavefunctions import TransformerWavefunction

    distributed = Distributed()
    keras.utils.set_random_seed(0)
    model = TransformerWavefunction(args.n_sites, num_layers=2, num_heads=4, d_model=32)
    trainer = VMCTrainer(model, operators.TransverseFieldIsing(args.n_sites), batch_size=args.batch,
                         seed=0, optimizer=keras.optimizers.Adam(TransformerWarmup(1e-2, 100)),
                         chunk_size=args.chunk_size or None, distributed=distributed)
    distributed.broadcast_variables(model.variables + trainer.optimizer.variables)
    for _ in range(args.warmup):
        float(trainer.step()["energy"])
    distributed.barrier()
    start = time.perf_counter()
    for _ in range(args.steps):
        float(trainer.step()["energy"])
    distributed.barrier()
    seconds = time.perf_counter() - start
    if distributed.is_chief:
        print("RESULT " + json.dumps({
            "ranks": distributed.size, "seconds": seconds, "steps_per_s": args.steps / seconds,
            "samples_per_s": args.steps * args.batch * distributed.size / seconds,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "device": "GPU" if tf.config.list_logical_devices("GPU") else "CPU"}), flush=True)


def launch(args, ranks, threads, gpu):
    """Run the worker in ``ranks`` processes (plain python for one), on GPUs or hiding them;
    returns rank 0's result dict."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", f"--threads={threads}",
               f"--n_sites={args.n_sites}", f"--batch={args.batch}", f"--steps={args.steps}",
               f"--warmup={args.warmup}", f"--chunk_size={args.chunk_size}"]
    if ranks > 1:
        command = [sys.executable, "-m", "horovod.runner.launch", "-np", str(ranks),
                   "-H", f"localhost:{ranks}", "--gloo", *command]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)}
    if not gpu:
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in result.stdout.splitlines() if "RESULT " in line]
    if result.returncode != 0 or not lines:
        sys.exit(f"{ranks} rank(s) failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(lines[0].split("RESULT ", 1)[1])


def report(label, one, many):
    for run in (one, many):
        print(f"  {label} {run['ranks']} rank(s), {run['intra_op_threads']} intra-op thread(s) "
              f"each: {run['samples_per_s']:9.0f} samples/s  {run['steps_per_s']:6.2f} steps/s")
    efficiency = many["samples_per_s"] / (many["ranks"] * one["samples_per_s"])
    print(f"  scaling efficiency {many['ranks']} ranks: {efficiency:.2f} "
          f"(throughput({many['ranks']}) / ({many['ranks']} x throughput(1)))")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n_sites", type=int, default=20)
    parser.add_argument("--batch", type=int, default=256, help="samples per step and per rank")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--chunk_size", type=int, default=0, help="local-energy chunk (0: all)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    cores = os.cpu_count()
    print(f"TFIM N={args.n_sites}, transformer d=2 h=4 r=2 d_model=32, batch {args.batch} per rank, "
          f"{args.steps} timed steps after {args.warmup}; {cores} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    report("CPU", launch(args, 1, cores, gpu=False), launch(args, 2, max(1, cores // 2), gpu=False))
    print(f"  (on CPU both runs share the same {cores} cores: 0.5 means 2 ranks gain nothing over one "
          "rank using all cores; more means they use the cores better than one rank's threads)")
    gpus = 0
    if shutil.which("nvidia-smi"):
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout
        gpus = listing.count("GPU ")
    if gpus:
        report("GPU", launch(args, 1, cores, gpu=True),
               launch(args, gpus, max(1, cores // gpus), gpu=True))
    else:
        print("  GPU: no GPU on this machine (nvidia-smi not found or lists none)")


if __name__ == "__main__":
    main()
