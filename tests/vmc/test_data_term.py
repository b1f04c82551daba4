"""Data-enhanced VMC: exact snapshots, the snapshot file, and pretraining on snapshots of the
exact Rydberg ground state measured by the exact KL divergence over every configuration."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.references import sampler_p_value
from tfqsr import hilbert, operators, validation
from tfqsr.vmc.data import kl_divergence, load_snapshots, save_snapshots
from tfqsr.vmc.snapshots import rydberg_snapshots
from tfqsr.vmc.trainer import VMCTrainer
from tfqsr.wavefunctions import TransformerWavefunction


def test_exact_snapshots_follow_the_ground_state():
    samples, psi = rydberg_snapshots(2, 2, 4000, seed=1)
    assert sampler_p_value(samples, psi**2) > 1e-3


def test_snapshot_file_round_trip(tmp_path):
    samples, _ = rydberg_snapshots(2, 2, 10)
    path = save_snapshots(str(tmp_path / "s.npz"), samples)
    np.testing.assert_array_equal(load_snapshots(path, 4), samples)


@pytest.mark.parametrize("content,message", [
    ({"samples": np.zeros((3, 5))}, r"\[M >= 1, 4\]"),
    ({"samples": np.full((3, 4), 2)}, "0/1 array"),
    ({"a": np.zeros((3, 4)), "b": np.zeros((3, 4))}, "one array or an array named 'samples'"),
], ids=["columns", "values", "arrays"])
def test_bad_snapshot_files_name_data(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **content)
    with pytest.raises(validation.ConfigError, match=f"--data must .*{message}"):
        load_snapshots(str(path), 4)


def test_missing_snapshot_file_names_data(tmp_path):
    with pytest.raises(validation.ConfigError, match="--data must be a readable .npz file"):
        load_snapshots(str(tmp_path / "none.npz"), 4)


def _pretrain(lx, ly, n_snapshots, steps, layout, lr):
    data, psi = rydberg_snapshots(lx, ly, n_snapshots, seed=0)
    keras.utils.set_random_seed(0)
    n = lx * ly
    model = TransformerWavefunction(n, layout=layout, num_layers=1, num_heads=2, d_model=16)
    trainer = VMCTrainer(model, operators.Rydberg(lx, ly), batch_size=8, data=data,
                         data_batch_size=1000, pretrain_steps=steps,
                         optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps)))
    for _ in range(steps):
        nll = float(trainer.pretrain_step()["nll"])
    p = np.exp(model.log_prob(tf.constant(hilbert.all_configurations(n))).numpy().astype(np.float64))
    return kl_divergence(psi**2, p), nll


def test_pretraining_on_2x2_snapshots_learns_the_distribution():
    kl, nll = _pretrain(2, 2, 5000, 100, hilbert.PatchLayout((2, 2), (1, 2)), 1e-2)
    assert kl < 0.01 and np.isfinite(nll)


@pytest.mark.slow
def test_pretraining_on_20000_snapshots_of_3x3_reaches_kl_below_0_01():
    kl, _ = _pretrain(3, 3, 20000, 400, hilbert.PatchLayout((3, 3), (1, 3)), 1e-2)
    assert kl < 0.01


def test_kl_without_data_is_refused():
    model = TransformerWavefunction(4, num_layers=1, num_heads=1, d_model=4)
    with pytest.raises(ValueError, match="need data"):
        VMCTrainer(model, operators.Rydberg(2, 2), batch_size=4, kl=1.0, optimizer=keras.optimizers.Adam())
