"""One rank of tests/qrnn/test_horovod.py, under ``horovodrun -np 2``: a tiny simple-seq QRNN
run with two shards of one sequence each, trained as ``tfqsr.qrnn.runs.train`` does (the
experiment of ``qrnn_experiment`` in a shared run directory, rank 0 writing), after which every
rank exports its own parameters to OUT/rank<r>/model.keras.

    python tests/qrnn/horovod_worker.py RUN_DIR OUT EPOCHS OPTIMIZER
"""
import os
import sys

from tfqsr.qrnn.config import QRNNConfig
from tfqsr.qrnn.runs import check_run
from tfqsr.qrnn.trainer import qrnn_experiment
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.experiment import run_experiment

TINY = dict(dataset="simple-seq", sentence_length=4, workspace=1, stages=1, order=1, degree=1,
            learning_rate=0.05, seed=5, validate_every=2, num_validation_samples=0,
            jit_compile=False)


def main(run_dir, out, epochs, optimizer):
    distributed = Distributed()
    config = QRNNConfig(num_shards=distributed.size, batch_size=2 // distributed.size,
                        epochs=int(epochs), optimizer=optimizer, **TINY)
    built = []

    def build(config, distributed):
        built.append(qrnn_experiment(config, distributed))
        return built[-1]
    outcome, _ = run_experiment(check_run(config, run_dir).run, build, verbose=0,
                                distributed=distributed)
    assert outcome == "completed", outcome
    built[0].export(os.path.join(out, f"rank{distributed.rank}"))


if __name__ == "__main__":
    main(*sys.argv[1:])
