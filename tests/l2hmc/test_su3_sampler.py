"""SU(3) on the shared sampler, 2^4 lattices in fp64: links stay in SU(3) over long trajectories
(plain and learned), forward-backward reversibility, the HMC energy violation falls as eps^2
(fitted slope), the learned kernel and a training step through the shared trainer; HMC
reproduces the strong-coupling plaquette beta/18 + beta^2/216 at beta = 0.1, 0.2 (slow)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfqsr.l2hmc.dynamics import LeapfrogDynamics
from tfqsr.l2hmc.kernel import hmc_kernel, l2hmc_kernel, leapfrog, run_chain
from tfqsr.l2hmc.su3 import SU3Lattice

LATTICE = SU3Lattice(2, 2, 2, 2, beta=5.0)
GROUP = LATTICE.group


def _force(x):
    return LATTICE.action_gradient(x)


def _start(chains=2, seed=1):
    x = LATTICE.random_links(chains, [seed, 2], dtype=tf.float64)
    p = GROUP.random_momentum(GROUP.momentum_shape(x), [seed, 3], tf.float64)
    return x, p


def _assert_in_su3(x, tol=1e-10):
    u = x.numpy().reshape(-1, 3, 3)
    assert np.abs(u @ np.conj(np.swapaxes(u, 1, 2)) - np.eye(3)).max() < tol
    assert np.abs(np.linalg.det(u) - 1).max() < tol


def _hamiltonian(x, p):
    return (LATTICE.action(x) + GROUP.kinetic_energy(p)).numpy()


def test_hmc_trajectories_stay_in_su3_and_are_reversible():
    x, p = _start()
    run = tf.function(lambda x, p: leapfrog(GROUP, _force, x, p, 0.05, 200)[:2], autograph=False)
    x1, p1 = run(x, p)  # 200 leapfrog steps, never re-projected
    _assert_in_su3(x1)
    assert np.abs(x1.numpy() - x.numpy()).max() > 0.1  # it moved
    assert np.abs(_hamiltonian(x1, p1) - _hamiltonian(x, p)).max() < 0.5  # |dH| small (hot start)
    x2, p2 = run(x1, -p1)  # momentum flip, back
    assert np.abs(x2.numpy() - x.numpy()).max() < 1e-10
    assert np.abs(p2.numpy() + p.numpy()).max() < 1e-10


def test_energy_violation_falls_as_step_size_squared():
    x, p = _start(chains=4, seed=4)
    length = 0.4  # fixed trajectory length: eps = length / n
    steps = np.array([4, 8, 16])
    violations = []
    for n in steps:
        x1, p1, _ = leapfrog(GROUP, _force, x, p, length / n, int(n))
        violations.append(np.sqrt(np.mean((_hamiltonian(x1, p1) - _hamiltonian(x, p)) ** 2)))
    slope = np.polyfit(np.log(length / steps), np.log(violations), 1)[0]
    assert 1.8 < slope < 2.2, (slope, violations)


def _learned_dynamics(seed=0, nleapfrog=2):
    keras.utils.set_random_seed(seed)
    dynamics = LeapfrogDynamics("su3", LATTICE.link_shape, nleapfrog=nleapfrog, eps=0.1,
                                use_ncp=False, units=(8,), mask_seed=seed, dtype="float64")
    dynamics.build()
    rng = np.random.default_rng(seed)
    for weight in dynamics.trainable_weights:  # away from the near-identity initialization
        weight.assign(weight.numpy() + rng.normal(0, 0.05, weight.shape))
    return dynamics


def test_learned_trajectory_is_reversible_stays_in_su3_and_masks_whole_links():
    dynamics = _learned_dynamics()
    masks = dynamics.masks.numpy()
    assert masks.shape == (2, *LATTICE.link_shape) and (masks.sum(axis=tuple(range(1, 6))) == 32).all()
    x, v = _start()
    x1, v1, logdet1 = dynamics.forward(x, v, _force)
    _assert_in_su3(x1)
    assert np.abs(x1.numpy() - x.numpy()).max() > 0.05
    x2, v2, logdet2 = dynamics.backward(x1, v1, _force)
    assert np.abs(x2.numpy() - x.numpy()).max() < 1e-12
    np.testing.assert_allclose(v2.numpy(), v.numpy(), atol=1e-12)
    np.testing.assert_allclose(logdet1.numpy() + logdet2.numpy(), 0.0, atol=1e-12)
    assert np.abs(logdet1.numpy()).min() > 0  # the momentum scalings contribute
    # one position half-update moves exactly the links of its mask, each as a whole matrix
    moved, _ = dynamics._position_update(0, x, v, dynamics.masks[0], True)
    changed = np.abs(moved.numpy() - x.numpy()).max(axis=(-2, -1)) > 0
    np.testing.assert_array_equal(changed, np.broadcast_to(masks[0] > 0, changed.shape))


def test_learned_kernel_moves_in_su3_and_rejects_with_the_state_unchanged():
    dynamics = _learned_dynamics(1, nleapfrog=1)
    kernel = l2hmc_kernel(dynamics, LATTICE)
    x, _ = _start(chains=4)
    new, results = kernel.one_step(x, kernel.bootstrap_results(x), seed=tf.constant([1, 2]))
    _assert_in_su3(new, 1e-13)
    accepted = results.is_accepted.numpy()
    assert np.isfinite(results.log_accept_ratio.numpy()).all()
    np.testing.assert_array_equal(new.numpy()[~accepted], x.numpy()[~accepted])


@pytest.mark.slow
def test_a_training_step_runs_on_su3():
    from tfqsr.l2hmc.config import L2HMCConfig
    from tfqsr.l2hmc.trainer import build_trainer
    from tfqsr.runtime.distributed import Distributed
    config = L2HMCConfig(group="su3", nt=2, nx=2, beta_init=5.0, beta_final=5.0, eras=1,
                         steps_per_era=1, chains=4, nleapfrog=1, units=(8,), precision="fp64")
    trainer = build_trainer(config, Distributed(use_horovod=False))
    assert trainer.chains.dtype == tf.complex128
    metrics = trainer.step(1)
    assert np.isfinite(metrics["loss"]) and bool(metrics["finite"]) and "plaquette_error" not in metrics
    _assert_in_su3(trainer.chains)


@pytest.mark.slow
@pytest.mark.parametrize("beta", [0.1, 0.2])
def test_hmc_reproduces_the_strong_coupling_plaquette(beta):
    lattice = SU3Lattice(2, 2, 2, 2, beta=beta)
    chains, burn_in, steps = 64, 20, 60
    kernel = hmc_kernel(lattice, step_size=0.3, num_leapfrog_steps=4, num_adaptation_steps=burn_in,
                        beta=beta)
    observe = lambda x, r: {"plaquette": lattice.plaquette(x),  # noqa: E731
                            "accepted": r.inner_results.is_accepted}
    start = lattice.random_links(chains, [7, 8], dtype=tf.float64)
    trace = tf.function(lambda s: run_chain(kernel, s, burn_in + steps, tf.constant([9, 10]), observe,
                                            group=lattice.group)[2], autograph=False)(start)
    assert 0.6 < trace["accepted"].numpy()[burn_in:].mean() < 0.98
    chain_means = trace["plaquette"].numpy()[burn_in:].mean(0)  # independent chains
    error = chain_means.std(ddof=1) / np.sqrt(chains)
    expected = lattice.strong_coupling_plaquette()  # beta/18 + beta^2/216; O(beta^3) < 1e-4
    assert abs(chain_means.mean() - expected) < 4 * error, (chain_means.mean(), expected, error)
    assert expected > 8 * error  # resolves the signal: not satisfied by <plaquette> = 0


@pytest.mark.slow  # minutes: two ranks under horovodrun, each tracing the SU(3) training step
def test_two_horovod_ranks_train_equal_su3_samplers(tmp_path):
    """horovodrun -np 2 --gloo (tests/l2hmc/su3_horovod_worker.py): three SU(3) training steps
    on 2^4 with the chains split over the ranks and the gradients averaged; both ranks end with
    bitwise equal dynamics, Adam state and gathered chains (in SU(3)), and rank 0 wrote the run."""
    import json
    import os
    import subprocess
    import sys
    pytest.importorskip("horovod.tensorflow", reason="Horovod is not installed")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": repo, "TF_CPP_MIN_LOG_LEVEL": "2",
           "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "horovod.runner.launch", "-np", "2", "-H", "localhost:2", "--gloo",
         sys.executable, os.path.join(repo, "tests", "l2hmc", "su3_horovod_worker.py"), str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    assert ranks[0].files == ranks[1].files and any(n.startswith("adam_") for n in ranks[0].files)
    for name in ranks[0].files:
        np.testing.assert_array_equal(ranks[0][name], ranks[1][name], err_msg=name)
    _assert_in_su3(tf.constant(ranks[0]["chains"]))
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in rows)
    assert (tmp_path / "run" / "export" / "dynamics.json").exists()
