"""Variational Monte Carlo for autoregressive wavefunctions.

One step: draw exact samples x ~ |psi|^2 (each rank its own), compute local energies
E_loc(x) = sum_x' H_xx' psi(x')/psi(x) through the operator's ``connected``, estimate the
energy and the gradient 2 Re <conj(O)(E_loc - E)> (see ``estimators``), average gradients
over ranks, and apply them with the optimizer, unless the energy or a gradient is not finite,
in which case the parameters and optimizer state are left unchanged and the step is reported.

The global batch is ``batch_size`` per rank times the number of ranks; logged energies are
global averages.

Options of the NN-QSR code (``python -m tfqsr.model_builder``): ``minibatch_size`` K draws the
batch B = Q K as Q calls of K samples (``vmc.sampling``) and computes local energies K samples
at a time; a data term adds ``kl`` times the negative log-likelihood of a minibatch of
measurement snapshots to the loss (``vmc.data``), and ``pretrain_steps`` first train on the
data alone. With ``reference`` (the energy per site of the ground state, exact or published),
the energy per site and its signed difference to the reference are logged.
"""
import tensorflow as tf

from tfqsr import exact
from tfqsr.runtime import training
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.experiment import Experiment
from tfqsr.runtime.export import export_wavefunction
from tfqsr.vmc.estimators import energy_statistics, surrogate_loss
from tfqsr.vmc.sampling import minibatch_samples


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
      minibatch_size: K, a divisor of ``batch_size``: samples drawn per call of ``sample``
        (None: all at once).
      data: measurement snapshots int [M, N] for the data term; ``kl``: its weight;
        ``data_batch_size``: snapshots per step and rank (default ``batch_size``);
        ``pretrain_steps``: steps on the data alone before the VMC steps.
      reference: the ground-state energy per site (exact or published), or None; logged with
        the energy per site and their difference (negative: below the reference).
      sgrad: take log psi for the gradient from the sampling pass (``sample_with_log_psi``,
        differentiated through the decoder's cache) instead of a second, full pass over the
        samples; the same gradient up to float rounding. Plain gradient and positive models
        only.
    """

    def __init__(self, model, hamiltonian, *, batch_size, optimizer, seed=0, chunk_size=None,
                 distributed=None, exact_energy=None, preconditioner=None, minibatch_size=None,
                 data=None, kl=0.0, data_batch_size=None, pretrain_steps=0,
                 reference=None, sgrad=False):
        if hamiltonian.n_sites != model.n_sites:
            raise ValueError(f"hamiltonian has {hamiltonian.n_sites} sites, model {model.n_sites}")
        if minibatch_size is not None and int(batch_size) % int(minibatch_size):
            raise ValueError(f"minibatch_size {minibatch_size} does not divide batch_size {batch_size}")
        if (kl or pretrain_steps) and data is None:
            raise ValueError("kl > 0 and pretrain_steps > 0 need data (measurement snapshots)")
        if kl and preconditioner is not None:
            raise ValueError("kl applies to the plain gradient, not to a preconditioner")
        if sgrad and preconditioner is not None:
            raise ValueError("sgrad applies to the plain gradient, not to a preconditioner")
        if sgrad and getattr(model, "phase", False):
            raise ValueError("sgrad needs a positive wavefunction (phase=False)")
        self.sgrad = bool(sgrad)
        self.minibatch_size = minibatch_size
        self.kl = float(kl)
        self.pretrain_steps = int(pretrain_steps)
        self.reference = reference
        self.data = None if data is None else tf.constant(data, tf.int32)
        self.data_batch_size = int(data_batch_size or batch_size)
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
        self._pretrain_step = tf.function(self._data_step)

    def sample_seed(self):
        """This rank's stateless seed for the next batch, drawn from the shared generator."""
        return tf.cast(self.distributed.fold_rank(self.generator.make_seeds(1)[:, 0]), tf.int32)

    def local_energies(self, x):
        # log psi on the connected configurations dominates a step: an autoregressive model
        # evaluates them reusing the prefix they share with x (see log_psi_connected).
        return self.hamiltonian.local_energy(self.model, x, chunk_size=self.chunk_size)

    def gradients(self, x, local_energies, energy):
        """Rank-averaged gradient of the loss for samples ``x`` and their local energies: the
        energy gradient, plus ``kl`` times the data's negative log-likelihood gradient."""
        return self._gradients(x, local_energies, energy)[0]

    def _gradients(self, x, local_energies, energy):
        with tf.GradientTape() as tape:
            loss, extra = self._loss(self.model.log_psi(x), local_energies, energy)
        return self.distributed.average_gradients(tape.gradient(loss, self.model.trainable_variables)), extra

    def _loss(self, log_psi, local_energies, energy):
        """(the loss whose gradient is the step's direction, extra metrics): the VMC surrogate
        (``estimators.surrogate_loss``) plus ``kl`` times the data's negative log-likelihood."""
        loss = surrogate_loss(log_psi, local_energies, energy)
        if not self.kl:
            return loss, {}
        nll = self.negative_log_likelihood()
        return loss + self.kl * nll, {"nll": self.distributed.allreduce_mean([nll])[0]}

    def negative_log_likelihood(self):
        """-mean log p of this rank's next minibatch of snapshots (drawn by the generator)."""
        seed = self.sample_seed()
        rows = tf.random.stateless_uniform([self.data_batch_size], seed, 0, tf.shape(self.data)[0],
                                           dtype=tf.int32)
        return -tf.reduce_mean(self.model.log_prob(tf.gather(self.data, rows)))

    def _train_step(self):
        return self._apply(*self.direction(self.sample_seed()))

    def direction(self, seed):
        """(rank-averaged direction, samples, energy, error, variance, extra metrics) of the
        batch drawn with the stateless ``seed``: the loss gradient (with log psi from the
        sampling pass when ``sgrad``), or the preconditioner's direction."""
        if self.sgrad:
            with tf.GradientTape() as tape:
                x, log_psi = minibatch_samples(self.model, self.batch_size, self.minibatch_size, seed,
                                               with_log_psi=True)
                with tape.stop_recording():
                    e_loc = self.local_energies(x)
                    energy, error, variance = energy_statistics(e_loc, self.distributed)
                loss, extra = self._loss(log_psi, e_loc, energy)
            grads = self.distributed.average_gradients(tape.gradient(loss, self.model.trainable_variables))
            return grads, x, energy, error, variance, extra
        x = minibatch_samples(self.model, self.batch_size, self.minibatch_size, seed)
        e_loc = self.local_energies(x)
        energy, error, variance = energy_statistics(e_loc, self.distributed)
        if self.preconditioner is None:
            grads, extra = self._gradients(x, e_loc, energy)
        else:  # the natural-gradient direction (already global: see natural_gradient)
            grads, extra = self.preconditioner(self.model, x, e_loc, step=self.optimizer.iterations,
                                               distributed=self.distributed)
        return grads, x, energy, error, variance, extra

    def _apply(self, grads, x, energy, error, variance, extra):
        finite = tf.math.is_finite(energy) & tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(g)) for g in grads])
        if finite:  # autograph: a tf.cond; the update is skipped when anything is NaN/inf
            self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        magnetization, = self.distributed.allreduce_mean(
            [tf.reduce_mean(1.0 - 2.0 * tf.cast(x, tf.float64))])
        return {"energy": energy, "energy_error": error, "variance": variance,
                "v_score": self.hamiltonian.n_sites * variance / energy ** 2,
                "magnetization_z": magnetization, "finite": finite, **extra}

    def _data_step(self):
        """A pretraining step: minimize the data's negative log-likelihood alone."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            nll = self.negative_log_likelihood()
        grads = self.distributed.average_gradients(tape.gradient(nll, variables))
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads]) & tf.math.is_finite(nll)
        if finite:
            self.optimizer.apply_gradients(zip(grads, variables))
        return {"nll": self.distributed.allreduce_mean([nll])[0], "finite": finite}

    def step(self):
        """One optimization step; returns a dict of metrics (see ``fit``)."""
        metrics = dict(self._step())
        metrics["learning_rate"] = self.optimizer.learning_rate
        energy = float(metrics["energy"])
        if self.exact_energy is not None:
            metrics["exact_energy"] = self.exact_energy
            metrics["relative_error"] = abs(energy - self.exact_energy) / abs(self.exact_energy)
        if self.reference is not None:
            n = self.hamiltonian.n_sites
            metrics["energy_per_atom"] = energy / n
            metrics["energy_per_atom_error"] = float(metrics["energy_error"]) / n
            metrics["reference_energy_per_atom"] = self.reference
            metrics["difference_per_atom"] = energy / n - self.reference
        return metrics

    def pretrain_step(self):
        """One step on the data alone; returns {"nll", "learning_rate", "finite"}."""
        return {**self._pretrain_step(), "learning_rate": self.optimizer.learning_rate}

    def fit(self, steps, run_dir, *, checkpoint_every=100, verbose=1):
        """Train to ``steps`` total steps in ``run_dir``, resuming from its checkpoints.

        Logs per step: energy, energy_error, variance, v_score (N Var/E^2), magnetization_z,
        learning_rate and, with an exact energy, exact_energy and relative_error; with a
        reference, energy_per_atom (+ energy_per_atom_error), reference_energy_per_atom and
        difference_per_atom; with a data term, nll. The first ``pretrain_steps`` steps (counted
        in ``steps``' run after them: the run has pretrain_steps + steps steps) log nll only.
        Returns ("completed" | "interrupted", last step).
        """
        return training.train(
            lambda step: self.pretrain_step() if step <= self.pretrain_steps else self.step(),
            run_dir=run_dir, total_steps=self.pretrain_steps + steps,
            trackables={"model": self.model, "optimizer": self.optimizer, "generator": self.generator},
            distributed=self.distributed,
            broadcast=self.model.variables + self.optimizer.variables,
            checkpoint_every=checkpoint_every,
            progress_keys=("energy", "energy_error", "relative_error", "difference_per_atom", "nll"),
            verbose=verbose)


def vmc_experiment(config, distributed):
    """The :class:`~tfqsr.runtime.experiment.Experiment` of a VMC configuration, for
    ``run_experiment``: its Hamiltonian (with the exact energy when ``tfqsr.exact`` knows it),
    model, optimizer and preconditioner from the configuration's builders
    (``build_hamiltonian``, ``build_model``, ``build_optimizer``, ``build_preconditioner``: the
    pieces of ``tfqsr.vmc.config``), trained by a :class:`VMCTrainer` with the arguments of
    ``config.trainer_arguments(model=, hamiltonian=, exact_energy=)`` (batch size, seed,
    chunking, ...; it may also replace the ``hamiltonian`` the trainer sees) for ``steps``
    steps, checkpointing every ``checkpoint_every``; the model is exported with
    ``export_wavefunction``."""
    hamiltonian = config.build_hamiltonian()
    exact_energy = exact.exact_energy(hamiltonian)
    model = config.build_model()
    arguments = {"hamiltonian": hamiltonian,
                 **config.trainer_arguments(model=model, hamiltonian=hamiltonian, exact_energy=exact_energy)}
    build_preconditioner = getattr(config, "build_preconditioner", lambda: None)
    trainer = VMCTrainer(model, optimizer=config.build_optimizer(), distributed=distributed,
                         exact_energy=exact_energy, preconditioner=build_preconditioner(), **arguments)
    if exact_energy is not None:
        reference = f"exact energy {exact_energy:.10f}"
    elif trainer.reference is not None:
        reference = f"reference energy per site {trainer.reference}"
    else:
        reference = "exact energy unknown"
    return Experiment(
        fit=lambda run_dir, verbose: trainer.fit(config.steps, run_dir,
                                                 checkpoint_every=config.checkpoint_every,
                                                 verbose=verbose),
        export=lambda directory: export_wavefunction(model, directory),
        description=f"{hamiltonian!r}: {reference}")
