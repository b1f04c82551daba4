"""Training the learned sampler on the step runtime (``runtime.training.train``).

One step at coupling beta (``L2HMCConfig.beta``: annealed over eras): from this rank's chains
x, draw a proposal x' with the learned leapfrog (``kernel.propose``: random momenta, a random
direction per chain), compute its acceptance probability A and the loss (``loss.l2hmc_loss``),
average the gradients over ranks, clip them to ``clip_norm`` (global norm) and apply Adam,
unless the loss or a gradient is not finite (then nothing changes and the run stops); then
accept x' with probability A (Metropolis-Hastings), so the chains stay samples of e^{-S}.

The same trainer serves U(1) and SU(3): it reaches the lattice only through its methods
(``U1Lattice``, ``su3.SU3Lattice``; ``build_lattice``) and the links through the group.

The chains (all ranks' chains, [chains, *link_shape, *element_shape]), the dynamics, the optimizer and the
random generator are checkpointed, so an interrupted run resumes to the same result. Under
Horovod each rank moves ``chains / size`` of them with its own seeds and the global chains are
gathered after every step.

Logged per step: loss, acceptance (mean A), accepted (fraction), dq_int and dq_sin (mean
|Q(x_new) - Q(x)| after the accept step; on SU(3) the clover charge and its proxy),
plaquette (mean cos theta_P; SU(3): Re tr P / 3), plaquette_error (minus the exact
finite-volume value at beta; U(1) only), action (mean S), sumlogdet (mean log-det of the
proposals), eps_x and eps_v (mean learned step sizes), beta.
"""
import functools
import json
import os

import keras
import tensorflow as tf

from tfqsr.l2hmc.dynamics import LeapfrogDynamics, select_chains
from tfqsr.l2hmc.kernel import propose
from tfqsr.l2hmc.lattice import U1Lattice
from tfqsr.l2hmc.su3 import SU3Lattice
from tfqsr.l2hmc.loss import acceptance_probability, l2hmc_loss
from tfqsr.runtime import training
from tfqsr.runtime.experiment import Experiment
from tfqsr.runtime.files import staged_directory, write_json_atomic

DTYPES = {"fp32": ("float32", "float32"), "fp64": ("float64", "float64"),
          "fp16": ("float32", "mixed_float16")}  # (links, networks' dtype policy)
EXPORT_CONFIG = "dynamics.json"
EXPORT_WEIGHTS = "dynamics"


def build_lattice(config, beta=None):
    """The lattice of an ``L2HMCConfig`` at ``beta`` (default ``beta_final``)."""
    c = config.resolve()
    beta = c.beta_final if beta is None else beta
    if c.group == "su3":
        return SU3Lattice(c.nt, c.nx, c.ny, c.nz, beta, c1=c.c1)
    return U1Lattice(c.nt, c.nx, beta)


def build_dynamics(config):
    """The ``LeapfrogDynamics`` of an ``L2HMCConfig``, built (weights from ``config.seed``)."""
    dynamics = LeapfrogDynamics(**config.dynamics_arguments(), dtype=DTYPES[config.precision][1])
    dynamics.build()
    return dynamics


def export_dynamics(dynamics, directory):
    """Write ``dynamics.json`` (its Keras config) and its weights (a TF checkpoint) atomically."""
    with staged_directory(directory) as staging:
        write_json_atomic(os.path.join(staging, EXPORT_CONFIG), keras.saving.serialize_keras_object(dynamics))
        tf.train.Checkpoint(dynamics=dynamics).write(os.path.join(staging, EXPORT_WEIGHTS))


def load_dynamics(directory):
    """The dynamics written by ``export_dynamics``."""
    with open(os.path.join(directory, EXPORT_CONFIG)) as f:
        dynamics = keras.saving.deserialize_keras_object(json.load(f))
    if not dynamics.built:
        dynamics.build()
    tf.train.Checkpoint(dynamics=dynamics).read(os.path.join(directory, EXPORT_WEIGHTS)).assert_consumed()
    return dynamics


def _allgather(distributed, x):
    """All ranks' chains; complex links (SU(3)) as their real and imaginary parts (Horovod's
    allgather has no complex types)."""
    if x.dtype.is_complex:
        return tf.complex(distributed.allgather(tf.math.real(x)), distributed.allgather(tf.math.imag(x)))
    return distributed.allgather(x)


class L2HMCTrainer:
    """Train ``dynamics`` on ``lattice`` (module docstring) with settings from an ``L2HMCConfig``."""

    def __init__(self, config, dynamics, lattice, *, distributed):
        self.config = config
        self.dynamics = dynamics
        self.lattice = lattice
        self.distributed = distributed
        self.dtype = tf.as_dtype(DTYPES[config.precision][0])
        if config.chains % distributed.size:
            raise ValueError(f"chains ({config.chains}) must be a multiple of the ranks ({distributed.size})")
        self.local_chains = config.chains // distributed.size
        self.generator = tf.random.Generator.from_seed(config.seed)
        self.chains = tf.Variable(lattice.random_links(config.chains, [config.seed, 1], self.dtype),
                                  trainable=False, name="chains")
        self.optimizer = keras.optimizers.Adam(config.lr)
        self.optimizer.build(dynamics.trainable_variables)
        exact = getattr(lattice, "exact_plaquette_finite_volume", None)
        self._exact = exact and functools.lru_cache(maxsize=None)(exact)
        # No autograph: the step is plain TF ops (converting the networks' code costs seconds).
        self._step = tf.function(self._train_step, autograph=False)

    def _train_step(self, beta):
        config, lattice, distributed = self.config, self.lattice, self.distributed
        seeds = distributed.fold_rank(self.generator.make_seeds(1)[:, 0])
        proposal_seed, accept_seed = tf.unstack(tf.random.experimental.stateless_split(seeds, 2))
        start = distributed.rank * self.local_chains
        x = self.chains[start:start + self.local_chains]
        beta = tf.cast(beta, self.dtype)
        variables = self.dynamics.trainable_variables
        with tf.GradientTape() as tape:
            proposal = propose(self.dynamics, lattice, x, proposal_seed, beta=beta,
                               merge_directions=config.merge_directions)
            acceptance = acceptance_probability(proposal.log_accept_ratio)
            loss = l2hmc_loss(lattice, x, proposal.state, acceptance,
                              charge_weight=config.charge_weight, plaq_weight=config.plaq_weight)
        # zeros for weights a group does not use (the scale head of SU(3)'s position networks)
        gradients = [tf.zeros(v.shape, v.dtype) if g is None else g
                     for g, v in zip(tape.gradient(loss, variables), variables)]
        gradients = distributed.average_gradients(gradients)
        gradients, _ = tf.clip_by_global_norm(gradients, config.clip_norm)
        finite = tf.math.is_finite(loss) & tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(g)) for g in gradients])
        def apply():
            self.optimizer.apply_gradients(zip(gradients, variables))
            return tf.constant(True)
        tf.cond(finite, apply, lambda: tf.constant(False))  # skipped when anything is NaN/inf
        log_u = tf.math.log(tf.random.stateless_uniform(tf.shape(acceptance), accept_seed, dtype=self.dtype))
        accepted = log_u < proposal.log_accept_ratio
        x_new = select_chains(accepted, proposal.state, x)
        self.chains.assign(_allgather(distributed, x_new))
        eps_x, eps_v = self.dynamics.step_sizes()
        metrics = dict(
            loss=loss, acceptance=tf.reduce_mean(acceptance),
            accepted=tf.reduce_mean(tf.cast(accepted, self.dtype)),
            dq_int=tf.reduce_mean(tf.abs(lattice.topological_charge(x_new, "int")
                                         - lattice.topological_charge(x, "int"))),
            dq_sin=tf.reduce_mean(tf.abs(lattice.topological_charge(x_new, "sin")
                                         - lattice.topological_charge(x, "sin"))),
            plaquette=tf.reduce_mean(lattice.plaquette(x_new)),
            action=tf.reduce_mean(lattice.action(x_new, beta)),
            sumlogdet=tf.reduce_mean(proposal.log_det_jacobian))
        names = list(metrics)
        averaged = distributed.allreduce_mean([tf.cast(metrics[k], tf.float64) for k in names])
        return {**dict(zip(names, averaged)), "eps_x": tf.reduce_mean(eps_x),
                "eps_v": tf.reduce_mean(eps_v), "finite": finite}

    def step(self, step):
        """Training step ``step`` (1-based); its metrics (module docstring)."""
        beta = self.config.beta(step)
        metrics = dict(self._step(tf.constant(beta, tf.float64)))
        metrics["beta"] = beta
        if self._exact:
            metrics["plaquette_error"] = float(metrics["plaquette"]) - self._exact(beta)
        return metrics

    def fit(self, run_dir, *, verbose=1):
        """Train to ``config.steps`` in ``run_dir`` (resuming); ("completed" | "interrupted", step)."""
        return training.train(
            self.step, run_dir=run_dir, total_steps=self.config.steps,
            trackables={"dynamics": self.dynamics, "optimizer": self.optimizer,
                        "generator": self.generator, "chains": self.chains},
            distributed=self.distributed,
            broadcast=list(self.dynamics.variables) + list(self.optimizer.variables),
            checkpoint_every=self.config.checkpoint_every,
            progress_keys=("beta", "loss", "accepted", "dq_int",
                           "plaquette_error" if self._exact else "plaquette"), verbose=verbose)


def build_trainer(config, distributed):
    """The ``L2HMCTrainer`` of an ``L2HMCConfig`` (its lattice, dynamics and chains)."""
    config = config.validate()
    return L2HMCTrainer(config, build_dynamics(config), build_lattice(config), distributed=distributed)


def trainer_experiment(trainer):
    """The ``Experiment`` of a trainer: fit it, export its dynamics."""
    config, lattice = trainer.config, trainer.lattice
    return Experiment(
        fit=lambda run_dir, verbose: trainer.fit(run_dir, verbose=verbose),
        export=lambda directory: export_dynamics(trainer.dynamics, directory),
        description=(f"L2HMC on {lattice!r}: beta {config.beta_init} -> {config.beta_final} over "
                     f"{config.eras} eras of {config.steps_per_era} steps, {config.chains} chains, "
                     f"{config.nleapfrog} leapfrog steps ({position_update(config)})"))


def position_update(config):
    """The name of the position update of a configuration."""
    if config.resolve().group == "su3":
        return "group translation"
    return "NCP" if config.resolve().use_ncp else "affine"


def l2hmc_experiment(config, distributed):
    """The ``Experiment`` of an ``L2HMCConfig`` for ``runtime.experiment.run_experiment``."""
    return trainer_experiment(build_trainer(config, distributed))
