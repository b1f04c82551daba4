"""Tabular data for Hilbert space models: reading, checking against a configuration, splitting
and standardizing.

``load_frame(data)`` takes a pandas DataFrame, a CSV path or ``"sklearn:<name>"`` for the
datasets that ship with scikit-learn (``breast_cancer``, ``diabetes``, ``digits``, ``iris``,
``wine``; read from its package, never downloaded). ``prepare(config, frame)`` checks the
columns and the operator counts against the configuration (ConfigError naming the field), splits
the rows into test (``split``), validation (``validation_split`` of the rest) and training parts
(stratified for classification, reproducible from ``seed``), and standardizes the features
(and regression targets) with the training part's mean and standard deviation.

Labels: classification takes one column of class labels (any values; classes are the sorted
distinct values of the whole table) or several 0/1 columns holding a one-hot encoding (the
classes are then the column names); BCEWithLogitsLoss one column of 0/1 labels.
"""
import dataclasses
import os

import numpy as np

from tfqsr.validation import ConfigError

SKLEARN_PREFIX = "sklearn:"
SKLEARN_DATASETS = ("breast_cancer", "diabetes", "digits", "iris", "wine")


def load_frame(data):
    """A pandas DataFrame from a DataFrame, a CSV path or ``"sklearn:<name>"``."""
    import pandas as pd
    if isinstance(data, pd.DataFrame):
        return data
    if not isinstance(data, str):
        raise ConfigError(f"data must be a pandas DataFrame, a CSV path or 'sklearn:<name>', "
                          f"got {type(data).__name__}")
    if data.startswith(SKLEARN_PREFIX):
        name = data[len(SKLEARN_PREFIX):]
        if name not in SKLEARN_DATASETS:
            raise ConfigError(f"data must be sklearn:<name> with name one of "
                              f"{', '.join(SKLEARN_DATASETS)}, got {data!r}")
        import sklearn.datasets
        return getattr(sklearn.datasets, f"load_{name}")(as_frame=True).frame
    if not os.path.isfile(data):
        raise ConfigError(f"data must be an existing CSV file or sklearn:<name>, got {data!r}")
    try:
        return pd.read_csv(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"data {data!r} is not a readable CSV file: {error}") from None


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """z = (v − mean)/scale per column; ``scale`` is the standard deviation (1 where it is 0)."""
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values):
        scale = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(scale > 0, scale, 1.0))

    @classmethod
    def identity(cls, columns):
        return cls(np.zeros(columns), np.ones(columns))


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The arrays of a checked, split table. x are raw features (float32); y are class indices
    (int32) for classification, 0/1 (float32 [n, 1]) for binary, raw targets (float32) for
    regression; ``features``/``targets`` standardize them (targets: identity for labels)."""
    task: str
    feature_names: list
    target_names: list
    classes: list
    features: Standardizer
    targets: Standardizer
    train: tuple
    validation: tuple
    test: tuple

    @property
    def output_count(self):
        return len(self.classes) if self.task == "classification" else len(self.target_names)


def _columns(config, frame):
    columns = list(frame.columns)
    missing = [t for t in config.target_names if t not in columns]
    if missing:
        raise ConfigError(f"targets {missing} are not columns of the data (columns: "
                          f"{', '.join(map(str, columns[:12]))}{', ...' if len(columns) > 12 else ''})")
    features = config.input_features or [c for c in columns if c not in config.target_names]
    absent = [f for f in features if f not in columns]
    if absent:
        raise ConfigError(f"input_features {absent} are not columns of the data")
    if not features:
        raise ConfigError("the data has no feature columns besides the targets")
    non_numeric = [f for f in features + config.target_names * (config.task == "regression")
                   if not np.issubdtype(frame[f].dtype, np.number)]
    if non_numeric:
        raise ConfigError(f"columns {non_numeric} are not numeric")
    return features


def _labels(config, frame):
    """(labels [n] or [n, 1], classes) of a classification table."""
    targets = frame[config.target_names]
    if config.task == "binary":
        values = targets.iloc[:, 0].to_numpy()
        if not set(np.unique(values)) <= {0, 1}:
            raise ConfigError(f"{config.loss_function_config.type} needs 0/1 labels in "
                              f"{config.target_names[0]!r}, got values {np.unique(values)[:5]}")
        return values.astype(np.float32)[:, None], [0, 1]
    if len(config.target_names) > 1:
        onehot = targets.to_numpy()
        if not (np.isin(onehot, (0, 1)).all() and (onehot.sum(axis=1) == 1).all()):
            raise ConfigError(f"several classification targets {config.target_names} must be a "
                              "one-hot encoding (0/1, one 1 per row)")
        return onehot.argmax(axis=1).astype(np.int32), list(config.target_names)
    classes, labels = np.unique(targets.iloc[:, 0].to_numpy(), return_inverse=True)
    return labels.astype(np.int32), classes.tolist()


def check_device(device):
    """ConfigError if ``device`` is "cuda" and TensorFlow sees no GPU."""
    if device == "cuda":
        import tensorflow as tf
        if not tf.config.list_physical_devices("GPU"):
            raise ConfigError("device 'cuda' was requested but TensorFlow sees no GPU: use "
                              "'auto' or 'cpu'")


def prepare(config, data):
    """The ``Prepared`` arrays of ``data`` (module docstring) for ``config``."""
    from sklearn.model_selection import train_test_split
    frame = load_frame(data)
    features = _columns(config, frame)
    if config.input_operator_count != len(features):
        raise ConfigError(f"input_operator_count must equal the number of input features, "
                          f"{len(features)}, got {config.input_operator_count}")
    x = frame[features].to_numpy(np.float32)
    if config.task == "regression":
        y, classes = frame[config.target_names].to_numpy(np.float32), []
    else:
        y, classes = _labels(config, frame)
    outputs = len(classes) if config.task == "classification" else len(config.target_names)
    if config.output_operator_count != outputs:
        what = "classes" if config.task == "classification" else "targets"
        raise ConfigError(f"output_operator_count must equal the number of {what}, {outputs}, "
                          f"got {config.output_operator_count}")
    if not np.isfinite(x).all() or (config.task == "regression" and not np.isfinite(y).all()):
        raise ConfigError("the data has missing or infinite values in the features or targets")
    stratify = None if config.task == "regression" else y
    try:
        x_rest, x_test, y_rest, y_test = train_test_split(
            x, y, test_size=config.split, random_state=config.seed, stratify=stratify)
        if config.validation_split > 0:
            x_train, x_val, y_train, y_val = train_test_split(
                x_rest, y_rest, test_size=config.validation_split, random_state=config.seed,
                stratify=None if stratify is None else y_rest)
        else:
            x_train, y_train, x_val, y_val = x_rest, y_rest, x_rest[:0], y_rest[:0]
    except ValueError as error:
        raise ConfigError(f"split/validation_split cannot split {len(x)} rows: {error}") from None
    return Prepared(
        task=config.task, feature_names=[str(f) for f in features],
        target_names=list(config.target_names), classes=classes,
        features=Standardizer.fit(x_train),
        targets=(Standardizer.fit(y_train) if config.task == "regression"
                 else Standardizer.identity(len(config.target_names))),
        train=(x_train, y_train), validation=(x_val, y_val), test=(x_test, y_test))
