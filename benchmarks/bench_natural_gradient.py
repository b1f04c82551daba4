"""Natural-gradient (minSR / SR) training of the transformer against exact energies, optionally
side by side with NetKet's SR driver on its dense autoregressive network.

    python benchmarks/bench_natural_gradient.py --targets=tfim20 [--targets=tfim100,mhs20]
        [--max_seconds=S] [--netket]

Targets (the issue's): open TFIM N=20, relative error < 1e-4 within 5 minutes; open TFIM N=100,
< 2e-4 (20 minutes here; tokens of 4 spins, as flags/train_decoder/tfim100_sr.flags); modified
Haldane-Shastry N=20, < 1e-3 against ED (computed here, in the S_z = 0 sector; 15 minutes).
Each run stops at its step budget or time limit and prints steps, seconds, seconds per step and
the relative error of the mean energy over the last ``--average`` steps (one step's estimate
fluctuates by its standard error). With ``--netket`` (and NetKet importable) the same
Hamiltonian is trained with ``netket.driver.VMC_SR`` on ``ARNNDense`` (2 layers, 16 features:
19,560 parameters at N=20) with the same samples per step, step budget and time limit.
Timings on a shared machine are noisy.
"""
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from tfqsr.vmc.config import LR_SCHEDULES, SR_SOLVERS  # noqa: E402 (no TensorFlow)

FLAGS = flags.FLAGS

# name: (VMCConfig fields, target relative error, default time limit in seconds). At N=100
# tokens of 4 spins (-d 16, 25 tokens) make a step 8x cheaper than one-spin tokens.
TARGETS = {
    "tfim20": (dict(system_size=20, hamiltonian="tfim", d_model=16), 1e-4, 300),
    "tfim100": (dict(system_size=100, hamiltonian="tfim", dictionary_size=16, d_model=32), 2e-4, 1200),
    "mhs20": (dict(system_size=20, hamiltonian="mhs", d_model=16), 1e-3, 900),
}


def define_flags():
    flags.DEFINE_list("targets", ["tfim20"], f"Any of {', '.join(TARGETS)}.")
    flags.DEFINE_integer("steps", 1000, "Step budget (both codes).")
    flags.DEFINE_float("max_seconds", None, "Time limit of each training run, both codes (default: the "
                       f"target's: {', '.join(f'{k} {v[2]} s' for k, v in TARGETS.items())}).")
    flags.DEFINE_integer("batch_size", 512, "Samples per step.")
    flags.DEFINE_enum("optimizer", "minsr", ["sr", "minsr"], "tfqsr natural gradient.")
    flags.DEFINE_float("lr", 0.05, "Peak learning rate tau (tfqsr: after -w warm-up steps).")
    flags.DEFINE_integer("warmup_steps", 20, "tfqsr learning-rate warm-up steps.")
    flags.DEFINE_enum("lr_schedule", "constant", list(LR_SCHEDULES),
                      "tfqsr: after the warm-up, 1/sqrt(step) decay (warmup) or constant.")
    flags.DEFINE_float("diag_shift", 1e-2, "Initial diagonal shift (both codes).")
    flags.DEFINE_float("diag_shift_decay", 0.98, "Diagonal shift decay per step (both codes).")
    flags.DEFINE_float("diag_shift_min", 1e-3, "Smallest diagonal shift (both codes).")
    flags.DEFINE_integer("d_model", None, "Transformer width (default: the target's, 16; 32 at N=100).")
    flags.DEFINE_integer("num_layers", 2, "Transformer layers.")
    flags.DEFINE_enum("sr_solver", "direct", list(SR_SOLVERS), "tfqsr solver of the natural gradient.")
    flags.DEFINE_integer("jacobian_chunk_size", 64, "Samples per chunk of per-sample gradients.")
    flags.DEFINE_integer("average", 10, "Final energy = mean over this many last steps.")
    flags.DEFINE_boolean("netket", True, "Also run NetKet's SR driver when NetKet is importable.")
    flags.DEFINE_float("netket_lr", 0.01, "NetKet SGD learning rate.")


def exact_reference(hamiltonian):
    from tfqsr import exact
    if hamiltonian.name == "modified_haldane_shastry":  # ED in the S_z = 0 sector
        return exact.ground_state_energy(hamiltonian, n_down=hamiltonian.n_sites // 2)
    return exact.exact_energy(hamiltonian)


def report(code, name, steps, seconds, energies, exact_energy, target):
    energy = float(np.mean(energies[-FLAGS.average:]))
    error = abs(energy - exact_energy) / abs(exact_energy)
    verdict = "met" if error < target else "NOT met"
    print(f"{code:>7} {name:>8}: {steps:4d} steps {seconds:7.1f} s {seconds / steps:6.2f} s/step  "
          f"E {energy:.6f} (exact {exact_energy:.6f})  rel. error {error:.2e}  "
          f"target {target:.0e} {verdict}", flush=True)


def run_tfqsr(name, fields, exact_energy, target, max_seconds):
    from tfqsr.vmc import config as vmc_config
    from tfqsr.vmc.trainer import VMCTrainer
    if FLAGS.d_model is not None:
        fields = dict(fields, d_model=FLAGS.d_model)
    config = vmc_config.VMCConfig(
        **fields, num_layers=FLAGS.num_layers, batch_size=FLAGS.batch_size,
        optimizer=FLAGS.optimizer, lr=FLAGS.lr, warmup_steps=FLAGS.warmup_steps,
        lr_schedule=FLAGS.lr_schedule, diag_shift=FLAGS.diag_shift, diag_shift_decay=FLAGS.diag_shift_decay,
        diag_shift_min=FLAGS.diag_shift_min, sr_solver=FLAGS.sr_solver,
        jacobian_chunk_size=FLAGS.jacobian_chunk_size).validate()
    import keras
    keras.utils.set_random_seed(config.seed)  # initial weights as python -m tfqsr.train_decoder's
    model = vmc_config.build_model(config)
    n_parameters = sum(v.shape.num_elements() for v in model.trainable_variables)
    print(f"tfqsr {name}: transformer with {n_parameters} parameters, {config.optimizer}", flush=True)
    trainer = VMCTrainer(model, vmc_config.build_hamiltonian(config), batch_size=config.batch_size,
                         optimizer=vmc_config.build_optimizer(config),
                         preconditioner=vmc_config.build_preconditioner(config),
                         exact_energy=exact_energy)
    trainer.step()  # tracing, excluded from the timing
    energies, start = [], time.perf_counter()
    while len(energies) < FLAGS.steps and time.perf_counter() - start < max_seconds:
        metrics = trainer.step()
        energies.append(float(metrics["energy"]))
        if len(energies) % 10 == 0:
            mean_error = abs(np.mean(energies[-FLAGS.average:]) - exact_energy) / abs(exact_energy)
            print(f"  step {len(energies)}: E {energies[-1]:.6f} rel. error {metrics['relative_error']:.2e} "
                  f"(mean of last {FLAGS.average}: {mean_error:.2e}) "
                  f"condition {float(metrics['solve_condition']):.1e} "
                  f"v_score {float(metrics['v_score']):.2e} ({time.perf_counter() - start:.0f} s)", flush=True)
    report("tfqsr", name, len(energies), time.perf_counter() - start, energies, exact_energy, target)


def netket_hamiltonian(nk, fields):
    n = fields["system_size"]
    hilbert = nk.hilbert.Spin(0.5, n)
    if fields["hamiltonian"] == "tfim":  # NetKet: -h sum X + J sum ZZ
        return hilbert, nk.operator.IsingJax(hilbert, nk.graph.Chain(n, pbc=False), h=1.0, J=-1.0)
    from tfqsr.operators.haldane_shastry import inverse_square_couplings
    pairs, coupling = inverse_square_couplings(n)
    sx, sy, sz = (lambda i: nk.operator.spin.sigmax(hilbert, int(i)),
                  lambda i: nk.operator.spin.sigmay(hilbert, int(i)),
                  lambda i: nk.operator.spin.sigmaz(hilbert, int(i)))
    operator = sum(c * (sz(i) * sz(j) - sx(i) * sx(j) - sy(i) * sy(j)) for (i, j), c in zip(pairs, coupling))
    return hilbert, operator.to_jax_operator()


def run_netket(name, fields, exact_energy, target, max_seconds):
    try:
        import netket as nk
    except ImportError:
        print(f"  netket {name}: NetKet not installed", flush=True)
        return
    import optax
    hilbert, hamiltonian = netket_hamiltonian(nk, fields)
    state = nk.vqs.MCState(nk.sampler.ARDirectSampler(hilbert), nk.models.ARNNDense(hilbert, layers=2, features=16),
                           n_samples=FLAGS.batch_size, seed=0)
    print(f"netket {name}: ARNNDense with {state.n_parameters} parameters, VMC_SR", flush=True)
    shift = optax.schedules.exponential_decay(FLAGS.diag_shift, 1, FLAGS.diag_shift_decay,
                                              end_value=FLAGS.diag_shift_min)
    driver = nk.driver.VMC_SR(hamiltonian, nk.optimizer.Sgd(FLAGS.netket_lr), diag_shift=shift,
                              variational_state=state)
    driver.run(1, show_progress=False)  # compilation, excluded from the timing
    energies, start = [], time.perf_counter()

    def record(step, log_data, driver):  # NetKet callback: False stops the run
        energies.append(float(log_data["Energy"].mean.real))
        return time.perf_counter() - start < max_seconds

    driver.run(FLAGS.steps, show_progress=False, callback=record)
    report("netket", name, len(energies), time.perf_counter() - start, energies, exact_energy, target)


def main(argv):
    del argv
    from tfqsr.vmc import config as vmc_config
    for name in FLAGS.targets:
        if name not in TARGETS:
            raise app.UsageError(f"--targets: unknown {name!r}; allowed: {', '.join(TARGETS)}")
    from tfqsr.runtime import threads
    threads.configure()  # the thread pools of python -m tfqsr.train_decoder's defaults
    for name in FLAGS.targets:
        fields, target, default_seconds = TARGETS[name]
        max_seconds = FLAGS.max_seconds or default_seconds
        start = time.perf_counter()
        exact_energy = exact_reference(vmc_config.build_hamiltonian(vmc_config.VMCConfig(**fields)))
        print(f"{name}: exact energy {exact_energy:.8f} ({time.perf_counter() - start:.1f} s)", flush=True)
        run_tfqsr(name, fields, exact_energy, target, max_seconds)
        if FLAGS.netket:
            run_netket(name, fields, exact_energy, target, max_seconds)


if __name__ == "__main__":
    define_flags()
    app.run(main)
