"""VMC training against exact energies, and the NaN guard."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfqsr import exact, hilbert, operators
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.loop import NonFiniteLossError
from tfqsr.vmc import TransformerWarmup, VMCTrainer
from tfqsr.wavefunctions import TransformerWavefunction


def variational_energy(model, operator):
    """<psi|H|psi> / <psi|psi> by enumerating all 2^N configurations."""
    x = hilbert.all_configurations(model.n_sites)
    psi = np.exp(model.log_psi(x).numpy().astype(np.complex128))
    return float(np.real(np.vdot(psi, operator.to_sparse() @ psi) / np.vdot(psi, psi)))


def test_tfim_chain_n10_reaches_relative_error_1e_3(tmp_path):
    operator = operators.TransverseFieldIsing(10, h=1.0)
    keras.utils.set_random_seed(0)
    model = TransformerWavefunction(10, num_layers=2, num_heads=4, d_model=32)
    exact_energy = exact.tfim_ground_state_energy(10, h=1.0)
    trainer = VMCTrainer(model, operator, batch_size=256, seed=0, exact_energy=exact_energy,
                         optimizer=keras.optimizers.Adam(TransformerWarmup(0.01, 20)))
    outcome, step = trainer.fit(150, str(tmp_path), verbose=0)
    assert (outcome, step) == ("completed", 150)
    energy = variational_energy(model, operator)
    assert energy >= exact_energy - 1e-9  # variational principle
    assert abs(energy - exact_energy) / abs(exact_energy) < 1e-3


class _NaNCoupling(operators.TransverseFieldIsing):
    """A TFIM whose matrix elements are NaN: every local energy is NaN."""

    def connected(self, x):
        x_conn, mels = super().connected(x)
        return x_conn, mels * np.nan


def test_nan_loss_skips_the_update_and_stops_with_a_clear_message(tmp_path):
    model = TransformerWavefunction(4, num_layers=1, num_heads=2, d_model=8, clip_distance=2)
    trainer = VMCTrainer(model, _NaNCoupling(4), batch_size=16, seed=0,
                         optimizer=keras.optimizers.Adam(1e-2))
    before = [np.array(v) for v in model.variables + trainer.optimizer.variables]
    metrics = trainer.step()
    assert not bool(metrics["finite"])
    after = [np.array(v) for v in model.variables + trainer.optimizer.variables]
    assert all(np.array_equal(b, a) for b, a in zip(before, after)), "parameters changed"
    with pytest.raises(NonFiniteLossError, match="step 1: the loss or its gradient is not finite"):
        trainer.fit(5, str(tmp_path), verbose=0)


def test_hamiltonian_and_model_sizes_must_match():
    with pytest.raises(ValueError, match="sites"):
        VMCTrainer(TransformerWavefunction(4, d_model=8, num_heads=2), operators.TransverseFieldIsing(6),
                   batch_size=8, optimizer=keras.optimizers.Adam())


def test_single_process_distributed_fallback():
    distributed = Distributed(use_horovod=False)
    assert (distributed.rank, distributed.size, distributed.is_chief) == (0, 1, True)
    values = [tf.constant(2.0), tf.constant([1.0, 3.0])]
    assert [np.array(v).tolist() for v in distributed.allreduce_mean(values)] == [2.0, [1.0, 3.0]]
    np.testing.assert_array_equal(distributed.allgather(tf.constant([[1, 2]])), [[1, 2]])
