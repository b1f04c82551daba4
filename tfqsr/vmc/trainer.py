"""Variational Monte Carlo for autoregressive wavefunctions.

One step: draw exact samples x ~ |psi|^2 (each rank its own), compute local energies
E_loc(x) = sum_x' H_xx' psi(x')/psi(x) through the operator's ``connected``, estimate the
energy and the gradient 2 Re <conj(O)(E_loc - E)> (see ``estimators``), average gradients
over ranks, and apply them with the optimizer, unless the energy or a gradient is not finite,
in which case the parameters and optimizer state are left unchanged and the step is reported.

The global batch is ``batch_size`` per rank times the number of ranks; logged energies are
global averages.
"""
import tensorflow as tf

from tfqsr import exact
from tfqsr.runtime import training
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.experiment import Experiment
from tfqsr.runtime.export import export_wavefunction
from tfqsr.vmc.estimators import energy_statistics, surrogate_loss


class VMCTrainer:
    """Train ``model`` (an AutoregressiveWavefunction) on ``hamiltonian`` (an Operator).

    Args:
      batch_size: samples per step on each rank.
      optimizer: a Keras optimizer (it is built here on the model's variables).
      seed: the seed of the random generator (its state is checkpointed).
      chunk_size: samples per call of log psi on connected configurations (bounds memory).
      distributed: a ``Distributed`` (default: one process, or Horovod under horovodrun).
      exact_energy: if known, logged with the relative error |E - E0| / |E0|.
      preconditioner: None (the plain gradient) or a ``NaturalGradient``: its direction
        (S + lambda I)^-1 F replaces the gradient, and its metrics (diag_shift, solve_condition,
        ...) are logged; use it with ``keras.optimizers.SGD``.
    """

    def __init__(self, model, hamiltonian, *, batch_size, optimizer, seed=0, chunk_size=None,
                 distributed=None, exact_energy=None, preconditioner=None):
        if hamiltonian.n_sites != model.n_sites:
            raise ValueError(f"hamiltonian has {hamiltonian.n_sites} sites, model {model.n_sites}")
        self.model = model
        self.hamiltonian = hamiltonian
        self.batch_size = int(batch_size)
        self.optimizer = optimizer
        self.chunk_size = chunk_size
        self.distributed = distributed or Distributed(use_horovod="auto")
        self.exact_energy = exact_energy
        self.preconditioner = preconditioner
        self.generator = tf.random.Generator.from_seed(int(seed))
        self.optimizer.build(model.trainable_variables)
        self._step = tf.function(self._train_step)

    def sample_seed(self):
        """This rank's stateless seed for the next batch, drawn from the shared generator."""
        return tf.cast(self.distributed.fold_rank(self.generator.make_seeds(1)[:, 0]), tf.int32)

    def local_energies(self, x):
        # log psi on the connected configurations dominates a step: an autoregressive model
        # evaluates them reusing the prefix they share with x (see log_psi_connected).
        return self.hamiltonian.local_energy(self.model, x, chunk_size=self.chunk_size)

    def gradients(self, x, local_energies, energy):
        """Rank-averaged energy gradient for samples ``x`` and their local energies."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss = surrogate_loss(self.model.log_psi(x), local_energies, energy)
        return self.distributed.average_gradients(tape.gradient(loss, variables))

    def _train_step(self):
        x = self.model.sample(self.batch_size, self.sample_seed())
        e_loc = self.local_energies(x)
        energy, error, variance = energy_statistics(e_loc, self.distributed)
        if self.preconditioner is None:
            grads, extra = self.gradients(x, e_loc, energy), {}
        else:  # the natural-gradient direction (already global: see natural_gradient)
            grads, extra = self.preconditioner(self.model, x, e_loc, step=self.optimizer.iterations,
                                               distributed=self.distributed)
        finite = tf.math.is_finite(energy) & tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(g)) for g in grads])
        if finite:  # autograph: a tf.cond; the update is skipped when anything is NaN/inf
            self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        magnetization, = self.distributed.allreduce_mean(
            [tf.reduce_mean(1.0 - 2.0 * tf.cast(x, tf.float64))])
        return {"energy": energy, "energy_error": error, "variance": variance,
                "v_score": self.hamiltonian.n_sites * variance / energy ** 2,
                "magnetization_z": magnetization, "finite": finite, **extra}

    def step(self):
        """One optimization step; returns a dict of metrics (see ``fit``)."""
        metrics = dict(self._step())
        metrics["learning_rate"] = self.optimizer.learning_rate
        if self.exact_energy is not None:
            metrics["exact_energy"] = self.exact_energy
            metrics["relative_error"] = abs(float(metrics["energy"]) - self.exact_energy) / abs(self.exact_energy)
        return metrics

    def fit(self, steps, run_dir, *, checkpoint_every=100, verbose=1):
        """Train to ``steps`` total steps in ``run_dir``, resuming from its checkpoints.

        Logs per step: energy, energy_error, variance, v_score (N Var/E^2), magnetization_z,
        learning_rate and, with an exact energy, exact_energy and relative_error.
        Returns ("completed" | "interrupted", last step).
        """
        return training.train(
            lambda step: self.step(), run_dir=run_dir, total_steps=steps,
            trackables={"model": self.model, "optimizer": self.optimizer, "generator": self.generator},
            distributed=self.distributed,
            broadcast=self.model.variables + self.optimizer.variables,
            checkpoint_every=checkpoint_every,
            progress_keys=("energy", "energy_error", "relative_error"), verbose=verbose)


def vmc_experiment(config, distributed):
    """The :class:`~tfqsr.runtime.experiment.Experiment` of a VMC configuration, for
    ``run_experiment``: its Hamiltonian (with the exact energy when ``tfqsr.exact`` knows it),
    model, optimizer and preconditioner from the configuration's builders
    (``build_hamiltonian``, ``build_model``, ``build_optimizer``, ``build_preconditioner``: the
    pieces of ``tfqsr.vmc.config``), trained by a :class:`VMCTrainer` with its ``batch_size``,
    ``seed``, ``chunk_size``, ``steps`` and ``checkpoint_every``; the model is exported with
    ``export_wavefunction``."""
    hamiltonian = config.build_hamiltonian()
    exact_energy = exact.exact_energy(hamiltonian)
    model = config.build_model()
    trainer = VMCTrainer(model, hamiltonian, batch_size=config.batch_size,
                         optimizer=config.build_optimizer(), seed=config.seed,
                         chunk_size=config.chunk_size or None, distributed=distributed,
                         exact_energy=exact_energy, preconditioner=config.build_preconditioner())
    reference = "unknown" if exact_energy is None else f"{exact_energy:.10f}"
    return Experiment(
        fit=lambda run_dir, verbose: trainer.fit(config.steps, run_dir,
                                                 checkpoint_every=config.checkpoint_every,
                                                 verbose=verbose),
        export=lambda directory: export_wavefunction(model, directory),
        description=f"{hamiltonian!r}: exact energy {reference}")
