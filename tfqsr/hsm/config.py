"""The training configuration of Hilbert space models: pydantic v2 models with the field names
and defaults of Qognitive's PyTorch models guide, validated on construction (an error names the
field and what is allowed), with a JSON round trip (``model_dump_json`` /
``load_config``) and a JSON schema (``model_json_schema``).

    config = GeneralHSModelHyperparameters(
        hsm_model="general", input_operator_count=30, output_operator_count=2,
        hilbert_space_dims=8, epochs=100, batch_size=32, targets="target",
        optimizer_config=OptimizerConfig(type="Adam", default_params={"lr": 0.01}),
        loss_function_config=LossFunctionConfig(type="CrossEntropyLoss"))

Optimizers are named as in PyTorch or Keras (Adam, AdamW, SGD, RMSprop, Adagrad, Adadelta,
Adamax, Nadam, Lion, ...) and built as ``keras.optimizers`` classes; their parameters may use
PyTorch's names (``lr``, ``betas``, ``eps``, ``alpha``, ``momentum``, ``weight_decay``,
``nesterov``, ``amsgrad``) or Keras's. Keras applies ``weight_decay`` decoupled (as AdamW) for
every optimizer. Losses take PyTorch's names (``LOSSES``) or Keras's (a ``keras.losses``
function or class name); schedulers ``SCHEDULERS``. Nothing here imports TensorFlow unless a
Keras name outside these tables has to be checked.
"""
import inspect
import json
import os
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tfqsr.validation import ConfigError

# PyTorch name -> Keras class, and the Keras parameters of each (besides learning_rate and
# weight_decay, which every Keras optimizer takes).
OPTIMIZERS = {
    "Adam": ("Adam", ("beta_1", "beta_2", "epsilon", "amsgrad")),
    "AdamW": ("AdamW", ("beta_1", "beta_2", "epsilon", "amsgrad")),
    "SGD": ("SGD", ("momentum", "nesterov")),
    "RMSprop": ("RMSprop", ("rho", "momentum", "epsilon", "centered")),
    "Adagrad": ("Adagrad", ("initial_accumulator_value", "epsilon")),
    "Adadelta": ("Adadelta", ("rho", "epsilon")),
    "Adamax": ("Adamax", ("beta_1", "beta_2", "epsilon")),
    "NAdam": ("Nadam", ("beta_1", "beta_2", "epsilon")),
    "Nadam": ("Nadam", ("beta_1", "beta_2", "epsilon")),
    "Lion": ("Lion", ("beta_1", "beta_2")),
}
# PyTorch parameter -> Keras parameter(s); "betas" is a pair.
TORCH_PARAMETERS = {"lr": "learning_rate", "eps": "epsilon", "alpha": "rho",
                    "initial_accumulator_value": "initial_accumulator_value",
                    "weight_decay": "weight_decay", "momentum": "momentum",
                    "nesterov": "nesterov", "amsgrad": "amsgrad", "centered": "centered",
                    "betas": ("beta_1", "beta_2")}

# PyTorch loss -> (task, allowed parameters with their defaults).
LOSSES = {
    "MSELoss": ("regression", {}),
    "L1Loss": ("regression", {}),
    "SmoothL1Loss": ("regression", {"beta": 1.0}),
    "HuberLoss": ("regression", {"delta": 1.0}),
    "CrossEntropyLoss": ("classification", {"weight": None, "label_smoothing": 0.0}),
    "BCEWithLogitsLoss": ("binary", {"pos_weight": None}),
    "NLLLoss": ("classification", {"weight": None}),
}
KERAS_CLASSIFICATION_LOSSES = ("crossentropy", "hinge")

# Scheduler -> (required parameters, optional parameters with defaults).
SCHEDULERS = {
    "StepLR": (("step_size",), {"gamma": 0.1}),
    "ExponentialLR": (("gamma",), {}),
    "CosineAnnealingLR": (("T_max",), {"eta_min": 0.0}),
    "ReduceLROnPlateau": ((), {"monitor": "val_loss", "mode": "min", "factor": 0.1,
                               "patience": 10, "threshold": 1e-4, "cooldown": 0, "min_lr": 0.0}),
}


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _keras_optimizer_parameters(name):
    """Parameters of ``keras.optimizers.<name>``, or None if there is no such class."""
    import keras
    cls = getattr(keras.optimizers, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, keras.optimizers.Optimizer)):
        return None
    return tuple(inspect.signature(cls).parameters)


def keras_optimizer_arguments(optimizer_type, params):
    """The Keras class name and keyword arguments of an optimizer of PyTorch or Keras name
    ``optimizer_type`` with PyTorch- or Keras-named ``params``; ValueError naming what is wrong."""
    if optimizer_type in OPTIMIZERS:
        cls, own = OPTIMIZERS[optimizer_type]
        allowed = ("learning_rate", "weight_decay") + own
    else:
        allowed = _keras_optimizer_parameters(optimizer_type)
        if allowed is None:
            raise ValueError(f"unknown optimizer {optimizer_type!r}: one of "
                             f"{', '.join(OPTIMIZERS)} or a keras.optimizers class name")
        cls = optimizer_type
    arguments = {}
    for name, value in params.items():
        keras_name = TORCH_PARAMETERS.get(name, name)
        if isinstance(keras_name, tuple):
            if not (isinstance(value, (list, tuple)) and len(value) == len(keras_name)):
                raise ValueError(f"{name} must be a pair, got {value!r}")
            arguments.update(zip(keras_name, value))
            continue
        if keras_name not in allowed or keras_name == "kwargs":
            raise ValueError(f"unknown parameter {name!r} of optimizer {optimizer_type}: allowed "
                             f"{', '.join(sorted(set(allowed) - {'kwargs', 'name'}))} (or the "
                             "PyTorch names lr, betas, eps, alpha)")
        arguments[keras_name] = value
    return cls, arguments


class PerGroupOptimizerParams(_Config):
    """Optimizer parameters of the weights whose path contains any of ``param_name_contains``
    (e.g. "input_diags", "output", "input_weights"); the first matching group claims a weight."""
    param_name_contains: Union[str, list[str]]
    params: dict[str, Any] = {}

    @property
    def patterns(self):
        return [self.param_name_contains] if isinstance(self.param_name_contains, str) else list(
            self.param_name_contains)


class OptimizerConfig(_Config):
    """``type``: optimizer name; ``default_params``: parameters of every weight no group claims;
    ``group_params``: parameter groups, each with its own parameters over the defaults."""
    type: str = "Adam"
    default_params: dict[str, Any] = {}
    group_params: Optional[list[PerGroupOptimizerParams]] = None

    @model_validator(mode="after")
    def _known(self):
        keras_optimizer_arguments(self.type, self.default_params)
        for group in self.group_params or ():
            keras_optimizer_arguments(self.type, {**self.default_params, **group.params})
        return self


class LossFunctionConfig(_Config):
    """``type``: a PyTorch loss name (``LOSSES``) or a Keras loss name; ``params``: its
    parameters (PyTorch's: ``weight``, ``label_smoothing``, ``delta``, ``beta``, ``pos_weight``)."""
    type: str = "MSELoss"
    params: dict[str, Any] = {}

    @model_validator(mode="after")
    def _known(self):
        if self.type in LOSSES:
            allowed = LOSSES[self.type][1]
            unknown = sorted(set(self.params) - set(allowed))
            if unknown:
                raise ValueError(f"unknown parameters {unknown} of {self.type}: allowed "
                                 f"{sorted(allowed) or 'none'}")
            return self
        import keras
        loss = getattr(keras.losses, self.type, None)
        if loss is None or not callable(loss):
            raise ValueError(f"unknown loss {self.type!r}: one of {', '.join(LOSSES)} or a "
                             "keras.losses name")
        if inspect.isclass(loss):
            allowed = set(inspect.signature(loss).parameters) - {"kwargs", "name"}
            unknown = sorted(set(self.params) - allowed)
            if unknown:
                raise ValueError(f"unknown parameters {unknown} of keras.losses.{self.type}")
        elif self.params:
            raise ValueError(f"keras.losses.{self.type} is a function and takes no params")
        return self

    @property
    def task(self):
        """"classification" (logits per class; integer or one-hot labels), "binary" (one logit)
        or "regression"."""
        if self.type in LOSSES:
            return LOSSES[self.type][0]
        name = self.type.lower()
        if any(word in name for word in KERAS_CLASSIFICATION_LOSSES):
            return "binary" if name.startswith("binary") else "classification"
        return "regression"


class SchedulerConfig(_Config):
    """A learning-rate scheduler of PyTorch's name (``SCHEDULERS``) stepped every epoch or
    every optimizer step (``interval``; ReduceLROnPlateau: epochs only)."""
    type: str
    params: dict[str, Any] = {}
    interval: Literal["epoch", "step"] = "epoch"

    @model_validator(mode="after")
    def _known(self):
        if self.type not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.type!r}: one of {', '.join(SCHEDULERS)}")
        required, optional = SCHEDULERS[self.type]
        unknown = sorted(set(self.params) - set(required) - set(optional))
        missing = sorted(set(required) - set(self.params))
        if unknown or missing:
            raise ValueError(f"{self.type} takes {', '.join(required + tuple(optional))}"
                             f"{' (required: ' + ', '.join(required) + ')' if required else ''}"
                             f"; unknown {unknown}, missing {missing}")
        if self.type == "ReduceLROnPlateau" and self.interval != "epoch":
            raise ValueError("ReduceLROnPlateau steps once per epoch: interval must be 'epoch'")
        return self

    @property
    def resolved_params(self):
        return {**SCHEDULERS[self.type][1], **self.params}


class EarlyStoppingConfig(_Config):
    monitor: str = "val_loss"
    min_delta: float = Field(1e-4, ge=0)
    patience: int = Field(10, ge=0)
    mode: Literal["min", "max"] = "min"
    verbose: bool = False
    restore_best_weights: bool = True


class GradientClippingConfig(_Config):
    """Clip the gradients of all weights together as ``torch.nn.utils.clip_grad_norm_``: each
    is scaled by min(1, max_norm / |g|_p), |g|_p = (sum over every entry |g|^p)^(1/p) with
    p = ``norm_type`` (>= 1; ``inf`` or "inf": max |g|). In JSON an infinite ``norm_type`` is
    written "Infinity"."""
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="strings")
    max_norm: float = Field(gt=0)
    norm_type: float = Field(2.0, ge=1)


class ModelHyperparameters(_Config):
    """What every Hilbert space model shares: the data, the training and the operators' counts.

    ``input_operator_count`` must equal the number of input features, ``output_operator_count``
    the number of targets (regression), of classes (CrossEntropyLoss, NLLLoss) or 1
    (BCEWithLogitsLoss); ``fit`` checks both against the data. ``validation_split`` of the
    training part validates every epoch (0: none). ``device``: "auto", "cpu", "cuda" ("gpu"
    means "cuda"; Apple's "mps" does not exist in TensorFlow). ``num_workers`` > 0 reads training
    batches in a ``tf.data`` pipeline with that many parallel readers and ``pin_memory``
    keeps one batch ready ahead (on the GPU when there is one); neither changes the batches.
    ``beta``: None for the ground state, else the inverse temperature of the thermal state
    (the guide's mixing parameter; ``tfqsr.hsm.layers``); ``eigh_eps`` see the layers.
    """
    hsm_model: str
    input_operator_count: int = Field(ge=1)
    output_operator_count: int = Field(ge=1)
    weighted_layer: bool = False
    beta: Optional[float] = Field(None, gt=0)
    eigh_eps: float = Field(1e-8, ge=0)
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(32, ge=1)
    split: float = Field(0.2, gt=0, lt=1)
    validation_split: float = Field(0.2, ge=0, lt=1)
    seed: int = Field(42, ge=0)
    targets: Union[str, list[str]]
    input_features: Optional[list[str]] = None
    device: str = "auto"
    num_workers: int = Field(0, ge=0)
    pin_memory: bool = False
    optimizer_config: OptimizerConfig = OptimizerConfig()
    loss_function_config: LossFunctionConfig = LossFunctionConfig()
    scheduler_config: Optional[SchedulerConfig] = None
    early_stopping_config: Optional[EarlyStoppingConfig] = None
    gradient_clipping_config: Optional[GradientClippingConfig] = None

    @field_validator("device")
    @classmethod
    def _device(cls, value):
        if value == "mps":
            raise ValueError("'mps' (Apple's PyTorch backend) does not exist in TensorFlow: "
                             "use 'auto', 'cpu' or 'cuda'")
        if value not in ("auto", "cpu", "cuda", "gpu"):
            raise ValueError("must be 'auto', 'cpu', 'cuda' or 'gpu'")
        return "cuda" if value == "gpu" else value

    @field_validator("targets")
    @classmethod
    def _targets(cls, value):
        names = [value] if isinstance(value, str) else value
        if not names or len(set(names)) != len(names):
            raise ValueError("must be a column name or a non-empty list of distinct names")
        return value

    @field_validator("input_features")
    @classmethod
    def _features(cls, value):
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError("must be None or a non-empty list of distinct column names")
        return value

    @model_validator(mode="after")
    def _consistent(self):
        if self.input_features is not None:
            overlap = sorted(set(self.input_features) & set(self.target_names))
            if overlap:
                raise ValueError(f"targets {overlap} are also input_features")
        task = self.task
        if task == "binary" and self.output_operator_count != 1:
            raise ValueError(f"{self.loss_function_config.type} takes one logit: "
                             f"output_operator_count must be 1, got {self.output_operator_count}")
        if task == "binary" and len(self.target_names) != 1:
            raise ValueError(f"{self.loss_function_config.type} takes one target column of 0/1 "
                             f"labels, got {self.target_names}")
        logged = self.logged_metrics
        monitors = [("early_stopping_config.monitor", self.early_stopping_config
                     and self.early_stopping_config.monitor)]
        if self.scheduler_config is not None and self.scheduler_config.type == "ReduceLROnPlateau":
            monitors.append(("scheduler_config.params.monitor",
                             self.scheduler_config.resolved_params["monitor"]))
        for field, monitor in monitors:
            if monitor and monitor not in logged:
                raise ValueError(f"{field} {monitor!r} is never logged: one of {sorted(logged)}")
        return self

    @property
    def target_names(self):
        return [self.targets] if isinstance(self.targets, str) else list(self.targets)

    @property
    def task(self):
        return self.loss_function_config.task

    @property
    def logged_metrics(self):
        """The keys of every epoch's metrics row (and so the monitors allowed)."""
        names = ["loss"] + (["accuracy"] if self.task != "regression" else ["mse", "mae"])
        if self.hsm_model == "general_fullenergy":
            names.append("energy")
        return set(names + ["grad_norm", "learning_rate"]) | (
            {f"val_{n}" for n in names} if self.validation_split > 0 else set())


class GeneralHSModelHyperparameters(ModelHyperparameters):
    """``GeneralHSM`` operators (``hsm_model`` "general"; "general_fullenergy" trains on the
    ground-state energy of the joint Hamiltonian ½Σ(A_k − x_k)² + ½Σ(B_j − y_j)², plus
    ``prediction_loss_weight`` times the configured loss of the predictions)."""
    hsm_model: Literal["general", "general_fullenergy"] = "general"
    hilbert_space_dims: int = Field(ge=2)
    complex: bool = True
    prediction_loss_weight: float = Field(0.0, ge=0)


class PauliHSModelHyperparameters(ModelHyperparameters):
    """``PauliHSM`` operators on ``qubits_count`` qubits, of Pauli weight at most
    ``input_operator_pauli_weight`` / ``output_operator_pauli_weight`` (1..qubits_count; None:
    all 4^n strings)."""
    hsm_model: Literal["pauli"] = "pauli"
    qubits_count: int = Field(ge=1)
    input_operator_pauli_weight: Optional[int] = None
    output_operator_pauli_weight: Optional[int] = None

    @model_validator(mode="after")
    def _weights(self):
        for name in ("input_operator_pauli_weight", "output_operator_pauli_weight"):
            weight = getattr(self, name)
            if weight is not None and not 1 <= weight <= self.qubits_count:
                raise ValueError(f"{name} must be None or in 1..qubits_count = "
                                 f"{self.qubits_count}, got {weight}")
        return self


CONFIG_CLASSES = {"general": GeneralHSModelHyperparameters,
                  "general_fullenergy": GeneralHSModelHyperparameters,
                  "pauli": PauliHSModelHyperparameters}


def load_config(source):
    """The configuration of a dict, a JSON string or a JSON file path, its class chosen by
    ``hsm_model`` ("general", "general_fullenergy", "pauli")."""
    if isinstance(source, ModelHyperparameters):
        return source
    if isinstance(source, str):
        source = json.loads(source) if source.lstrip().startswith("{") else _read_json(source)
    model = source.get("hsm_model", "general") if isinstance(source, dict) else None
    if model not in CONFIG_CLASSES:
        raise ValueError(f"hsm_model must be one of {', '.join(CONFIG_CLASSES)}, got {model!r}")
    return CONFIG_CLASSES[model].model_validate(source)


def _read_json(path):
    with open(path) as f:
        return json.load(f)


CONFIG_DIR = os.path.join(os.path.dirname(__file__), "configs")


def bundled_configs():
    """Names of the example configurations in ``tfqsr/hsm/configs/``."""
    return sorted(name[:-5] for name in os.listdir(CONFIG_DIR) if name.endswith(".json"))


def read_config_argument(value):
    """The JSON dict of ``--config``: a file, or the name of a bundled configuration."""
    path = value if os.path.isfile(value) else os.path.join(CONFIG_DIR, f"{value}.json")
    if not os.path.isfile(path):
        raise ConfigError(f"--config must be a JSON file or one of {', '.join(bundled_configs())}"
                          f", got {value!r}")
    try:
        with open(path) as f:
            source = json.load(f)
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"--config {value!r} is not valid JSON: {error}") from None
    if not isinstance(source, dict):
        raise ConfigError(f"--config must hold a JSON object, got {type(source).__name__}")
    return source
