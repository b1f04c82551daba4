"""Training Hilbert space models: ``fit(config, data)`` and the pieces it builds from a
configuration (losses, optimizers and parameter groups, schedules, callbacks), on the epoch
runtime (``tfqsr.runtime.epochs.EpochTrainer``).

    result = fit(config, "sklearn:breast_cancer")     # or a DataFrame or a CSV path
    result.test_metrics            # {"loss": ..., "accuracy": ...} or {"loss", "mse", "mae", "r2"}
    result.model.predict_labels(x);  result.history  # one dict per epoch

Losses (``loss`` is the mean over a batch's rows; the HSM outputs are logits for
classification and standardized targets for regression):

- MSELoss (x − y)², L1Loss |x − y|, HuberLoss(delta) ½r² for |r| ≤ δ else δ(|r| − ½δ),
  SmoothL1Loss(beta) = Huber(β)/β;
- CrossEntropyLoss(weight, label_smoothing): −Σ_c w_c q_c log softmax(x)_c with
  q = (1 − ε)·onehot + ε/C, averaged with the weights w_{y_i} of the true classes as PyTorch;
- NLLLoss(weight): −w_{y} x_{y} (the outputs read as log-probabilities, as PyTorch);
- BCEWithLogitsLoss(pos_weight): −[p y log σ(x) + (1 − y) log(1 − σ(x))];
- a Keras loss by name, on integer labels (names with "sparse") or one-hot labels.

``hsm_model = "general_fullenergy"`` minimizes the batch mean of the joint Hamiltonian's ground
(or free) energy with y the standardized targets or one-hot labels, plus
``prediction_loss_weight`` times the loss above; metrics are still those of the predictions.

Metrics: accuracy (classification); mse and mae in the targets' units (regression); r2 on the
test part. ``val_`` metrics come from the validation part every epoch.
"""
import contextlib
import dataclasses
import inspect
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tfqsr.hsm import config as hsm_config
from tfqsr.hsm.data import check_device, prepare
from tfqsr.hsm.model import build_model
from tfqsr.runtime import callbacks as runtime_callbacks
from tfqsr.runtime.datasets import ArrayDataset
from tfqsr.runtime.epochs import EpochTrainer
from tfqsr.runtime.logging import read_metrics
from tfqsr.validation import ConfigError

EVALUATION_BATCH = 1024


# --- losses ------------------------------------------------------------------------------------

def _class_weights(weight, classes, dtype):
    if weight is None:
        return None
    if len(weight) != classes:
        raise ConfigError(f"loss_function_config.params.weight must have one number per class "
                          f"({classes}), got {len(weight)}")
    return tf.constant(weight, dtype)


def prediction_loss(loss_config, classes):
    """``loss(y, outputs)`` -> scalar mean of a batch, for a ``LossFunctionConfig`` (module
    docstring); ``classes`` the number of classes (classification)."""
    name, params = loss_config.type, {**hsm_config.LOSSES.get(loss_config.type, ({}, {}))[1],
                                      **loss_config.params}
    if name in ("MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss"):
        def regression(y, outputs):
            residual = outputs - tf.cast(y, outputs.dtype)
            if name == "MSELoss":
                return tf.reduce_mean(residual ** 2)
            if name == "L1Loss":
                return tf.reduce_mean(tf.abs(residual))
            delta = params["delta"] if name == "HuberLoss" else params["beta"]
            small = tf.abs(residual) <= delta
            huber = tf.where(small, 0.5 * residual ** 2, delta * (tf.abs(residual) - 0.5 * delta))
            return tf.reduce_mean(huber if name == "HuberLoss" else huber / delta)
        return regression
    if name in ("CrossEntropyLoss", "NLLLoss"):
        def categorical(y, outputs):
            weight = _class_weights(params["weight"], classes, outputs.dtype)
            onehot = tf.one_hot(y, classes, dtype=outputs.dtype)
            if name == "NLLLoss":
                per_row = -tf.reduce_sum(onehot * outputs, axis=-1)
                target = onehot
            else:
                smoothing = params["label_smoothing"]
                target = (1 - smoothing) * onehot + smoothing / classes
                log_p = tf.nn.log_softmax(outputs, axis=-1)
                per_class = -target * log_p * (1.0 if weight is None else weight)
                per_row = tf.reduce_sum(per_class, axis=-1)
            if weight is None:
                return tf.reduce_mean(per_row)
            return tf.reduce_sum(per_row) / tf.reduce_sum(tf.gather(weight, y))
        return categorical
    if name == "BCEWithLogitsLoss":
        def binary(y, outputs):
            y = tf.cast(y, outputs.dtype)
            pos_weight = 1.0 if params["pos_weight"] is None else params["pos_weight"]
            per = -(pos_weight * y * tf.math.log_sigmoid(outputs)
                    + (1 - y) * tf.math.log_sigmoid(-outputs))
            return tf.reduce_mean(per)
        return binary
    loss = getattr(keras.losses, name)
    loss = loss(**loss_config.params) if isinstance(loss, type) else loss
    sparse = "sparse" in name.lower()

    def keras_named(y, outputs):
        if loss_config.task == "classification" and not sparse:
            y = tf.one_hot(y, classes, dtype=outputs.dtype)
        return tf.reduce_mean(loss(y, outputs))
    return keras_named


def _energy_targets(task, y, classes, dtype):
    """y of the joint Hamiltonian: one-hot labels, 0/1, or the standardized targets."""
    if task == "classification":
        return tf.one_hot(y, classes, dtype=dtype)
    return tf.cast(y, dtype)


def loss_function(config, model, classes):
    """The ``loss_fn(batch, seed, training)`` of ``EpochTrainer`` (module docstring); batches are
    (raw x, y) with y class indices, 0/1 or standardized targets."""
    loss = prediction_loss(config.loss_function_config, classes)
    task = config.task
    target_scale = model.scalers["target_scale"]
    energy_weight = config.hsm_model == "general_fullenergy"
    prediction_weight = getattr(config, "prediction_loss_weight", 1.0) if energy_weight else 1.0

    @tf.autograph.experimental.do_not_convert  # no tensor-dependent Python control flow
    def loss_fn(batch, seed=None, training=False):
        del seed, training  # deterministic model
        x, y = batch
        scores = model.scores(x)
        values = {"loss": loss(y, scores)}
        if task == "regression":
            residual = (scores - tf.cast(y, scores.dtype)) * tf.constant(target_scale, scores.dtype)
            values["mse"] = tf.reduce_mean(residual ** 2)
            values["mae"] = tf.reduce_mean(tf.abs(residual))
        else:
            predicted = (tf.cast(scores[:, 0] > 0, tf.int32) if task == "binary"
                         else tf.argmax(scores, axis=-1, output_type=tf.int32))
            labels = tf.cast(tf.reshape(y, [-1]), tf.int32)
            values["accuracy"] = tf.reduce_mean(tf.cast(predicted == labels, scores.dtype))
        if energy_weight:
            energy = tf.reduce_mean(model.hsm.joint_energy(
                model.standardized(x), _energy_targets(task, y, classes, scores.dtype)))
            values["energy"] = energy
            values["loss"] = energy + prediction_weight * values["loss"]
        return values
    return loss_fn


# --- optimizers, schedules, callbacks ------------------------------------------------------------

def _optimizer(optimizer_type, params, schedule=None):
    cls, arguments = hsm_config.keras_optimizer_arguments(optimizer_type, params)
    cls = getattr(keras.optimizers, cls)
    if schedule is not None:  # from the given rate, or the class's default
        rate = arguments.get("learning_rate",
                             inspect.signature(cls).parameters["learning_rate"].default)
        arguments["learning_rate"] = schedule(rate)
    return cls(**arguments)


def _keras_schedule(scheduler):
    """A function lr -> ``keras.optimizers.schedules`` schedule of a PyTorch scheduler, counted
    in epochs (``interval="epoch"``, evaluated by ``EpochSchedule``) or optimizer steps.
    StepLR: lr·γ^⌊t/step_size⌋; ExponentialLR: lr·γ^t; CosineAnnealingLR:
    η_min + (lr − η_min)(1 + cos(π t/T_max))/2, held at η_min after T_max (Keras's CosineDecay;
    PyTorch's would rise again)."""
    p = scheduler.resolved_params
    schedules = keras.optimizers.schedules
    if scheduler.type == "StepLR":
        return lambda lr: schedules.ExponentialDecay(lr, p["step_size"], p["gamma"], staircase=True)
    if scheduler.type == "ExponentialLR":
        return lambda lr: schedules.ExponentialDecay(lr, 1, p["gamma"])
    return lambda lr: schedules.CosineDecay(lr, p["T_max"], alpha=p["eta_min"] / lr)


def parameter_groups(config, model):
    """{group name: (optimizer, variables)}: each ``group_params`` entry claims the weights whose
    path contains one of its patterns (first match wins); "default" takes the rest."""
    optimizer_config = config.optimizer_config
    scheduler = config.scheduler_config
    step_schedule = (_keras_schedule(scheduler)
                     if scheduler is not None and scheduler.interval == "step"
                     and scheduler.type != "ReduceLROnPlateau" else None)
    claimed, groups = set(), {}
    for index, group in enumerate(optimizer_config.group_params or ()):
        variables = [v for v in model.trainable_variables if id(v) not in claimed
                     and any(pattern in v.path for pattern in group.patterns)]
        if not variables:
            raise ConfigError(f"optimizer_config.group_params[{index}] matches no weight: "
                              f"{group.patterns}; weights are "
                              f"{', '.join(v.path for v in model.trainable_variables)}")
        claimed.update(id(v) for v in variables)
        groups[f"group{index}"] = (_optimizer(optimizer_config.type, {
            **optimizer_config.default_params, **group.params}, step_schedule), variables)
    rest = [v for v in model.trainable_variables if id(v) not in claimed]
    if rest:
        groups["default"] = (_optimizer(optimizer_config.type, optimizer_config.default_params,
                                        step_schedule), rest)
    return groups


def build_callbacks(config, groups):
    """Early stopping and epoch schedules / ReduceLROnPlateau (``tfqsr.runtime.callbacks``)."""
    result = []
    scheduler = config.scheduler_config
    optimizers = [optimizer for optimizer, _ in groups.values()]
    if scheduler is not None and scheduler.type == "ReduceLROnPlateau":
        p = scheduler.resolved_params
        result.append(runtime_callbacks.ReduceLROnPlateau(
            optimizers, monitor=p["monitor"], factor=p["factor"], patience=p["patience"],
            mode=p["mode"], min_delta=p["threshold"], cooldown=p["cooldown"], min_lr=p["min_lr"]))
    elif scheduler is not None and scheduler.interval == "epoch":
        make = _keras_schedule(scheduler)
        for optimizer in optimizers:
            rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
            result.append(runtime_callbacks.EpochSchedule(optimizer, make(rate)))
    stopping = config.early_stopping_config
    if stopping is not None:
        result.append(runtime_callbacks.EarlyStopping(
            stopping.monitor, stopping.min_delta, stopping.patience, stopping.mode,
            stopping.restore_best_weights))
    return result


# --- fit ---------------------------------------------------------------------------------------

def targets_for_training(model, y):
    """What the loss sees of prepared labels/targets ``y``: class indices and 0/1 labels as they
    are, regression targets standardized with the model's scalers."""
    if model.task != "regression":
        return y
    return ((np.asarray(y, np.float64) - model.scalers["target_mean"])
            / model.scalers["target_scale"]).astype(np.float32)


def evaluate(model, config, x, y):
    """Metrics of ``model`` on raw features ``x`` and labels/targets ``y`` (as ``prepare``
    gives them): the loss and accuracy (classification), or the loss, mse, mae and
    r2 = 1 − Σ(y − ŷ)²/Σ(y − ȳ)² (averaged over targets) in the targets' units (regression);
    "energy" too for general_fullenergy."""
    config = hsm_config.load_config(config)
    loss_fn = loss_function(config, model, len(model.classes))  # eager: one or a few batches
    data = ArrayDataset((x, targets_for_training(model, y)), EVALUATION_BATCH, shuffle=False)
    sums, rows = {}, 0
    for index in range(data.batches_per_epoch()):
        batch = data.batch(0, index)
        count = int(batch[0].shape[0])
        for name, value in loss_fn(batch).items():
            sums[name] = sums.get(name, 0.0) + count * float(value)
        rows += count
    metrics = {name: value / rows for name, value in sums.items()}
    if model.task == "regression":
        predicted = np.asarray(model.predict_labels(x), np.float64)
        y = np.asarray(y, np.float64)
        total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        metrics["r2"] = float(np.mean(1 - ((y - predicted) ** 2).sum(axis=0) / total))
    return metrics


@dataclasses.dataclass
class FitResult:
    """``model`` (an ``HSMModel``), ``history`` (the metrics.jsonl rows, one per epoch),
    ``test_metrics`` (``evaluate`` on the test part), ``outcome`` ("completed", "stopped" by
    early stopping, "interrupted"), the ``config`` and the ``prepared`` data."""
    model: object
    history: list
    test_metrics: dict
    outcome: str
    config: object
    prepared: object

    def predict(self, x):
        """Class labels or targets (in their units) of raw features ``x``."""
        return self.model.predict_labels(x)

    def evaluate(self, x, y):
        """``evaluate`` of this model on raw features ``x`` and labels/targets ``y``."""
        return evaluate(self.model, self.config, x, y)


@dataclasses.dataclass
class Training:
    """A model and its ``EpochTrainer``, built from a configuration and prepared data."""
    config: object
    prepared: object
    model: object
    trainer: object

    def fit(self, run_dir, verbose=1):
        """Train (resuming from ``run_dir``); returns (outcome, epochs done)."""
        keys = ("loss", "val_loss") + (("val_accuracy",) if self.model.task != "regression"
                                       else ("val_mse",))
        with _device(self.config.device):
            outcome, epochs = self.trainer.fit(self.config.epochs, run_dir, progress_keys=keys,
                                               verbose=verbose)
        stopping = self.config.early_stopping_config
        if outcome == "stopped" and stopping.verbose and self.trainer.distributed.is_chief:
            print(f"early stopping after epoch {epochs}: {stopping.monitor} has not improved "
                  f"for {stopping.patience} epochs", flush=True)
        return outcome, epochs

    def result(self, run_dir, outcome):
        x, y = self.prepared.test
        return FitResult(self.model, read_metrics(run_dir), evaluate(self.model, self.config, x, y),
                         outcome, self.config, self.prepared)


def _device(device):
    return tf.device("/CPU:0") if device == "cpu" else contextlib.nullcontext()


def build_training(config, prepared, distributed=None):
    """The ``Training`` of a validated configuration on ``prepare``d data (weights initialized
    from Keras's global seed)."""
    model = build_model(config, prepared)
    train = ArrayDataset((prepared.train[0], targets_for_training(model, prepared.train[1])),
                         config.batch_size, shuffle=True, seed=config.seed,
                         drop_remainder=len(prepared.train[0]) >= config.batch_size)
    validation = None
    if len(prepared.validation[0]):
        validation = ArrayDataset(
            (prepared.validation[0], targets_for_training(model, prepared.validation[1])),
            EVALUATION_BATCH, shuffle=False)
    groups = parameter_groups(config, model)
    clipping = config.gradient_clipping_config
    trainer = EpochTrainer(
        model, loss_function(config, model, len(prepared.classes)), train,
        parameter_groups=groups, validation_data=validation,
        callbacks=build_callbacks(config, groups),
        clip_norm=None if clipping is None else clipping.max_norm,
        clip_norm_type=2.0 if clipping is None else clipping.norm_type, seed=config.seed,
        distributed=distributed, data_workers=config.num_workers, prefetch=config.pin_memory)
    return Training(config, prepared, model, trainer)


def fit(config, data, *, run_dir=None, verbose=1, distributed=None):
    """Train a Hilbert space model and evaluate it on the test part.

    Args:
      config: a ``ModelHyperparameters`` (General/Pauli), a dict, a JSON string or JSON path.
      data: a pandas DataFrame, a CSV path or "sklearn:<name>".
      run_dir: where checkpoints and metrics go (resumed if it holds a run of this
        configuration); None: a new temporary directory.
      verbose: 1 progress, 0 silent.
      distributed: a ``tfqsr.runtime.distributed.Distributed`` (default: Horovod under
        horovodrun, else one process).

    Returns a ``FitResult``. Raises ConfigError (or pydantic's ValidationError) for an invalid
    configuration or data before training starts.
    """
    config = hsm_config.load_config(config)
    check_device(config.device)
    prepared = prepare(config, data)
    keras.utils.set_random_seed(config.seed)
    training = build_training(config, prepared, distributed)
    run_dir = run_dir or tempfile.mkdtemp(prefix="hsm_")
    outcome, _ = training.fit(run_dir, verbose)
    return training.result(run_dir, outcome)
