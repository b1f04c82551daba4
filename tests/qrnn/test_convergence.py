"""Learning (slow: hundreds of epochs each): ``simple-seq`` memorized to zero character error,
``elman-xor`` predicted far above chance (1/2 at the scored c = a xor b positions)."""
import pytest

from tfqsr.qrnn.config import QRNNConfig
from tfqsr.qrnn.runs import check_run, train
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.logging import read_metrics

pytestmark = pytest.mark.slow


def _validations(config, run_dir):
    train(check_run(config, str(run_dir)), verbose=0, distributed=Distributed(use_horovod=False))
    return [row for row in read_metrics(str(run_dir)) if "val_loss" in row]


def test_simple_seq_is_memorized(tmp_path):
    config = QRNNConfig(dataset="simple-seq", sentence_length=8, workspace=3, stages=2, order=2,
                        degree=2, batch_size=2, learning_rate=0.03, seed=1, epochs=400,
                        stop_at_loss=0.02, num_validation_samples=0, jit_compile=False)
    rows = _validations(config, tmp_path)
    assert rows[-1]["val_loss"] < 0.02 and rows[-1]["epoch"] < 400  # stopped at the loss
    assert rows[-1]["val_character_error"] == 0.0


def test_elman_xor_is_predicted_above_chance(tmp_path):
    config = QRNNConfig(dataset="elman-xor", sentence_length=12, workspace=4, stages=2, order=2,
                        degree=3, batch_size=8, learning_rate=0.02, seed=1, epochs=200,
                        num_validation_samples=0, jit_compile=False)
    rows = _validations(config, tmp_path)
    assert rows[0]["val_character_error"] > 0.2  # untrained: near chance
    assert rows[-1]["val_character_error"] <= 0.1, rows[-1]  # 32 scored c's: chance is 0.5
