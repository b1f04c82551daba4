"""Training on the step runtime, in process: the loss against numpy, the beta schedule, the run
directory, an interruption (SIGTERM) resumed to the uninterrupted result, the exported sampler
reloaded, and tau_int on a process with a known answer."""
import json
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from tfqsr.l2hmc.autocorrelation import integrated_autocorrelation_time
from tfqsr.l2hmc.config import L2HMCConfig
from tfqsr.l2hmc.lattice import U1Lattice
from tfqsr.l2hmc.loss import l2hmc_loss
from tfqsr.l2hmc.trainer import build_trainer, load_dynamics, trainer_experiment
from tfqsr.runtime import experiment
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.logging import read_metrics

CONFIG = L2HMCConfig(nt=4, nx=4, beta_init=1.0, beta_final=2.0, eras=2, steps_per_era=3, chains=8,
                     nleapfrog=1, conv_filters=(2,), conv_sizes=(3,), units=(8,), lr=0.01,
                     checkpoint_every=2, seed=3)


def test_beta_is_constant_within_an_era_and_linear_over_eras():
    config = L2HMCConfig(beta_init=1.0, beta_final=4.0, eras=4, steps_per_era=2)
    assert [config.beta(s) for s in range(1, 9)] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert L2HMCConfig(eras=1, beta_final=5.0).beta(1) == 5.0


def test_loss_matches_numpy():
    lattice = U1Lattice(4, 4)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-np.pi, np.pi, (2, 5, 2, 4, 4))
    acceptance = rng.uniform(0, 1, 5)
    loss = l2hmc_loss(lattice, tf.constant(x), tf.constant(y), tf.constant(acceptance),
                      charge_weight=0.01, plaq_weight=0.1).numpy()

    def theta(z):
        return (z[:, 0] + np.roll(z[:, 1], -1, 1) - np.roll(z[:, 0], -1, 2) - z[:, 1])
    dq = (np.sin(theta(y)).sum((1, 2)) - np.sin(theta(x)).sum((1, 2))) / (2 * np.pi)
    lq = acceptance * dq ** 2 + 1e-4
    lp = acceptance * (2 * (1 - np.cos(theta(y) - theta(x)))).sum((1, 2)) + 1e-4
    expected = np.mean(0.01 / lq - lq / 0.01) + np.mean(0.1 / lp - lp / 0.1)
    assert loss == pytest.approx(expected, rel=1e-12)


def _train(run_dir, interrupt_at=None):
    """Train CONFIG in ``run_dir`` in this process; with ``interrupt_at``, SIGTERM arrives
    during that step (the loop checkpoints after it and stops)."""
    def build(config, distributed):
        trainer = build_trainer(config, distributed)
        step = trainer.step

        def interrupted_step(number):
            if number == interrupt_at:
                os.kill(os.getpid(), signal.SIGTERM)
            return step(number)
        trainer.step = interrupted_step
        return trainer_experiment(trainer)
    plan = experiment.check_run(CONFIG, str(run_dir))
    return experiment.run_experiment(plan, build, verbose=0, distributed=Distributed(use_horovod=False))


def _checkpoint(run_dir):
    reader = tf.train.load_checkpoint(os.path.join(run_dir, "checkpoints"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name not in ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter/.ATTRIBUTES/VARIABLE_VALUE")}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("l2hmc") / "straight"
    assert _train(run_dir) == ("completed", 6)
    return run_dir


def test_run_directory_metrics_and_export(finished):
    for name in ("config.json", "metrics.jsonl", "events", "checkpoints", "export/dynamics.json"):
        assert (finished / name).exists(), name
    rows = read_metrics(str(finished))
    assert [r["step"] for r in rows] == list(range(1, 7))
    assert [r["beta"] for r in rows] == [1.0] * 3 + [2.0] * 3
    for key in ("loss", "acceptance", "accepted", "dq_int", "dq_sin", "plaquette", "plaquette_error",
                "action", "sumlogdet", "eps_x", "eps_v"):
        assert all(np.isfinite(r[key]) for r in rows), key
    exact = U1Lattice(4, 4).exact_plaquette_finite_volume(2.0)
    assert rows[-1]["plaquette_error"] == pytest.approx(rows[-1]["plaquette"] - exact)
    assert json.loads((finished / "config.json").read_text())["conv_filters"] == [2]


def test_training_changes_the_dynamics_and_the_chains(finished):
    reader = tf.train.load_checkpoint(os.path.join(finished, "checkpoints"))
    names = reader.get_variable_to_shape_map()
    chains = [n for n in names if n.startswith("chains/")]
    assert chains and reader.get_tensor(chains[0]).shape == (8, 2, 4, 4)
    dynamics = load_dynamics(str(finished / "export"))
    assert dynamics.nleapfrog == 1 and dynamics.link_shape == (2, 4, 4)
    eps_x, _ = dynamics.step_sizes()
    assert not np.allclose(eps_x.numpy(), CONFIG.eps)  # Adam moved the learned step size


def test_sigterm_then_resume_gives_the_uninterrupted_result(tmp_path, finished):
    run_dir = tmp_path / "interrupted"
    assert _train(run_dir, interrupt_at=3) == ("interrupted", 3)
    assert len(read_metrics(str(run_dir))) == 3
    assert _train(run_dir) == ("completed", 6)
    expected, resumed = _checkpoint(finished), _checkpoint(run_dir)
    assert expected.keys() == resumed.keys()
    for name in expected:
        np.testing.assert_array_equal(resumed[name], expected[name], err_msg=name)
    assert read_metrics(str(run_dir)) == read_metrics(str(finished))


def test_tau_int_of_an_ar1_process():
    """a_t = rho a_{t-1} + noise: tau_int = (1 + rho) / (1 - rho) = 9 for rho = 0.8."""
    rng = np.random.default_rng(0)
    rho, steps, chains = 0.8, 4000, 16
    series = np.zeros((steps, chains))
    series[0] = rng.normal(size=chains) / np.sqrt(1 - rho ** 2)
    for t in range(1, steps):
        series[t] = rho * series[t - 1] + rng.normal(size=chains)
    tau, error = integrated_autocorrelation_time(series)
    assert 0 < error < 1.5
    assert abs(tau - 9.0) < 4 * error, (tau, error)
    assert integrated_autocorrelation_time(np.ones((50, 4)))[0] == np.inf
