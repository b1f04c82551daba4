"""Speed and accuracy of the transformer quantum state (issue: transformer end to end).

    python benchmarks/bench_transformer.py                    # throughput at N=100 + N=20 target
    python benchmarks/bench_transformer.py --train_n100       # also the (long) N=100 run

Prints, for N=100, d=2, h=4, r=2, batch 1000: cached vs uncached samples/s, local-energy
evaluations/s (connected configurations through log psi) and seconds per VMC step; then trains
the open TFIM chain at N=20 to a relative error < 1e-3 and reports the wall time.
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfqsr import exact, operators  # noqa: E402
from tfqsr.vmc import TransformerWarmup, VMCTrainer  # noqa: E402
from tfqsr.wavefunctions import TransformerWavefunction  # noqa: E402
from timing import best_time  # noqa: E402


def throughput(n_sites=100, batch=1000, chunk_size=100):
    keras.utils.set_random_seed(0)
    model = TransformerWavefunction(n_sites, dictionary_size=2, num_heads=4, num_layers=2, d_model=32)
    hamiltonian = operators.TransverseFieldIsing(n_sites)
    print(f"N={n_sites}, d=2, h=4, r=2, d_model=32, {model.count_params()} parameters, batch {batch}")

    cached = best_time(lambda: model.sample(batch, [1, 2]).numpy())
    uncached_fn = tf.function(lambda: model.sample_uncached(100, [1, 2]))
    uncached = best_time(lambda: uncached_fn().numpy(), repeats=1)
    print(f"  sampling, key/value cache : {batch / cached:10.0f} samples/s ({cached:.2f} s per batch)")
    print(f"  sampling, uncached        : {100 / uncached:10.0f} samples/s "
          f"(cached is {(batch / cached) / (100 / uncached):.0f}x faster)")

    x = model.sample(batch, [3, 4])
    e_loc = tf.function(lambda x: hamiltonian.local_energy(model.log_psi, x, chunk_size=chunk_size))
    seconds = best_time(lambda: e_loc(x).numpy(), repeats=1)
    evaluations = batch * hamiltonian.max_conn
    print(f"  local energies            : {batch / seconds:10.0f} samples/s, "
          f"{evaluations / seconds:.0f} log-psi evaluations/s ({hamiltonian.max_conn} per sample)")

    trainer = VMCTrainer(model, hamiltonian, batch_size=batch, chunk_size=chunk_size,
                         optimizer=keras.optimizers.Adam(1e-3))
    step = best_time(lambda: trainer.step(), repeats=1)
    print(f"  VMC step                  : {step:10.2f} s")


def train_to_target(n_sites, steps, batch, lr, warmup, target=1e-3, chunk_size=None):
    keras.utils.set_random_seed(0)
    hamiltonian = operators.TransverseFieldIsing(n_sites)
    e0 = exact.exact_energy(hamiltonian)
    model = TransformerWavefunction(n_sites, dictionary_size=2, num_heads=4, num_layers=2, d_model=32)
    trainer = VMCTrainer(model, hamiltonian, batch_size=batch, seed=0, exact_energy=e0,
                         chunk_size=chunk_size, optimizer=keras.optimizers.Adam(TransformerWarmup(lr, warmup)))
    start = time.perf_counter()
    reached = None
    energies = []
    for step in range(1, steps + 1):
        energies.append(float(trainer.step()["energy"]))
        # Judge by the mean of the last 20 steps: one step's estimate has its own noise.
        window = np.mean(energies[-20:])
        if reached is None and step >= 20 and abs(window - e0) / abs(e0) < target:
            reached = (step, time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    final = np.mean(energies[-20:])
    print(f"TFIM open chain N={n_sites}: exact {e0:.6f}, mean energy of last 20 steps {final:.6f}, "
          f"relative error {abs(final - e0) / abs(e0):.2e} after {steps} steps, {elapsed:.0f} s "
          f"({elapsed / steps:.2f} s/step)")
    if reached:
        print(f"  relative error < {target:g} reached at step {reached[0]} after {reached[1]:.0f} s")
    else:
        print(f"  relative error < {target:g} NOT reached in {steps} steps")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_n100", action="store_true", help="also train N=100 (hours on 2 cores)")
    parser.add_argument("--n20_steps", type=int, default=400)
    args = parser.parse_args()
    from tfqsr.runtime import threads
    threads.configure()  # the thread pools of python -m tfqsr.train_decoder's defaults
    throughput()
    train_to_target(20, args.n20_steps, batch=512, lr=0.01, warmup=40)
    if args.train_n100:
        train_to_target(100, 2000, batch=1000, lr=0.005, warmup=100, chunk_size=50)


if __name__ == "__main__":
    main()
