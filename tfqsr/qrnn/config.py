"""The configuration of a QRNN run: one frozen dataclass whose fields are the flag names (the
RVQE command line's options with underscores) and are what ``config.json`` stores.

Global options (before the subcommand in the original form): tag, seed, port (accepted, unused:
Horovod finds its own ports), num_shards, num_validation_samples, epochs, timeout,
stop_at_loss. ``train`` options: workspace, stages, order, degree, dataset, sentence_length,
text_file, batch_size, optimizer, learning_rate, weight_decay, loss and the initial values
(initial_bias, initial_bias_spread, initial_weights_spread, initial_unitaries_spread); and
tfqsr's own: checkpoint_every, validate_every, jit_compile (XLA: about 10x faster steps
for small states after a compilation of a minute or two).

``validate()`` checks every field, the network's construction (``architecture``) and
the dataset's constraints (``datasets.make_task`` and ``Task.check``) without TensorFlow.
"""
import dataclasses
import math

from tfqsr.qrnn import datasets
from tfqsr.qrnn.architecture import LOSSES, check_architecture
from tfqsr.vmc.config import ConfigPiece

OPTIMIZERS = ("adam", "sgd", "rmsprop", "lbfgs")
# Fields that may change between a run and its continuation without making it another run.
RESUMABLE = ("epochs", "timeout", "stop_at_loss", "num_validation_samples", "checkpoint_every",
             "port", "jit_compile")
# Fields ``resume`` may override.
OVERRIDES = ("learning_rate", "batch_size")


@dataclasses.dataclass(frozen=True, kw_only=True)
class QRNNConfig(ConfigPiece):
    """A QRNN training run (module docstring); defaults are the original's."""
    tag: str = "qrnn"
    seed: int = 82727
    port: int = 12335
    num_shards: int = 1
    num_validation_samples: int = 2
    epochs: int = 5000
    timeout: float = None
    stop_at_loss: float = None
    workspace: int = 3
    stages: int = 2
    order: int = 2
    degree: int = 2
    dataset: str = "simple-seq"
    sentence_length: int = 8
    text_file: str = ""
    batch_size: int = 2
    optimizer: str = "adam"
    learning_rate: float = 0.003
    weight_decay: float = 0.0
    loss: str = "nll"
    initial_bias: float = math.pi / 2
    initial_bias_spread: float = 0.1
    initial_weights_spread: float = 0.01
    initial_unitaries_spread: float = 0.01
    checkpoint_every: int = 100
    validate_every: int = 10
    jit_compile: bool = True

    def check(self):
        self._require(bool(self.tag) and "/" not in self.tag, "tag", "a non-empty name without '/'")
        self._integer("seed", 0)
        self._integer("port", 0)
        self._integer("num_shards", 1)
        self._integer("num_validation_samples", 0)
        self._integer("epochs", 1)
        self._positive("timeout", optional=True)
        if self.stop_at_loss is not None:
            self._require(self.stop_at_loss == self.stop_at_loss, "stop_at_loss", "a number")
        for field in ("workspace", "stages", "order", "degree"):
            self._integer(field, 0 if field == "stages" else 1)
        self._integer("batch_size", 1)
        self._require(self.optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(OPTIMIZERS)}")
        self._positive("learning_rate")
        self._require(self.weight_decay >= 0, "weight_decay", "a number >= 0")
        self._require(self.loss in LOSSES, "loss", f"one of {', '.join(LOSSES)}")
        for field in ("initial_bias_spread", "initial_weights_spread", "initial_unitaries_spread"):
            self._require(getattr(self, field) >= 0, field, "a number >= 0")
        self._integer("checkpoint_every", 1)
        self._integer("validate_every", 1)
        task = self.task()
        check_architecture(self.workspace, task.input_width, self.stages, self.order,
                           self.degree, prefix="--")
        task.check(self.batch_size, self.num_shards)

    def task(self):
        """The dataset's ``Task`` (ConfigError for a bad dataset, length or text file)."""
        return datasets.make_task(self.dataset, self.sentence_length, self.text_file)
