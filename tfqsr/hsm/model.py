"""A trained Hilbert space model with its scalers: raw features in, predictions out.

``HSMModel`` standardizes x with the training data's mean and standard deviation, applies the
optional per-feature weights (``weighted_layer``) and the HSM layer, and maps the outputs back:
regression outputs to the targets' units (ŷ·scale + mean), classification outputs are the
logits (one per class, or one for a binary model). Everything it needs is in its config, so a
``.keras`` file holds the model with its scalers and labels::

    model.save("model.keras");  model = keras.saving.load_model("model.keras")
    model.predict_labels(x)        # class labels (classification) or targets (regression)
    export(model, "export/")       # SavedModel: signature predict(x) -> outputs (and labels)
"""
import os

import keras
import numpy as np
import tensorflow as tf

from tfqsr.hsm.layers import FeatureWeights, GeneralHSM, PauliHSM
from tfqsr.runtime.files import staged_directory, write_json_atomic

LAYERS = {"general": GeneralHSM, "general_fullenergy": GeneralHSM, "pauli": PauliHSM}


def layer_arguments(config):
    """The HSM layer class and constructor arguments of a configuration."""
    common = {"input_operator_count": config.input_operator_count,
              "output_operator_count": config.output_operator_count,
              "beta": config.beta, "eigh_eps": config.eigh_eps}
    if config.hsm_model == "pauli":
        return "PauliHSM", {**common, "qubits_count": config.qubits_count,
                            "input_operator_pauli_weight": config.input_operator_pauli_weight,
                            "output_operator_pauli_weight": config.output_operator_pauli_weight}
    return "GeneralHSM", {**common, "hilbert_space_dims": config.hilbert_space_dims,
                          "complex": config.complex}


@keras.saving.register_keras_serializable(package="tfqsr")
class HSMModel(keras.Model):
    """Scalers, optional feature weights and an HSM layer (module docstring).

    Args:
      layer: {"class_name": "GeneralHSM" | "PauliHSM", "config": constructor arguments}.
      weighted_layer: learn per-feature weights ``input_weights``.
      task: "classification", "binary" or "regression".
      feature_mean, feature_scale: per-feature standardization (lists of K numbers).
      target_mean, target_scale: per-target standardization (regression; else 0 and 1).
      feature_names, target_names, classes: the columns and class labels, kept for predictions.
    """

    def __init__(self, layer, weighted_layer, task, feature_mean, feature_scale, target_mean,
                 target_scale, feature_names=(), target_names=(), classes=(), **kwargs):
        super().__init__(**kwargs)
        self.layer_spec = {"class_name": layer["class_name"], "config": dict(layer["config"])}
        cls = {"GeneralHSM": GeneralHSM, "PauliHSM": PauliHSM}[layer["class_name"]]
        self.hsm = cls(**layer["config"], name="hsm")
        self.weighted_layer = bool(weighted_layer)
        self.feature_weights = FeatureWeights(name="feature_weights") if weighted_layer else None
        self.task = task
        self.scalers = {name: [float(v) for v in value] for name, value in (
            ("feature_mean", feature_mean), ("feature_scale", feature_scale),
            ("target_mean", target_mean), ("target_scale", target_scale))}
        self.feature_names, self.target_names = list(feature_names), list(target_names)
        self.classes = list(classes)

    def build(self, input_shape):
        shape = (None, len(self.scalers["feature_mean"]))
        if self.feature_weights is not None:
            self.feature_weights.build(shape)
        self.hsm.build(shape)
        self.built = True

    def standardized(self, x):
        """The standardized (and weighted) features the HSM layer sees."""
        x = tf.cast(x, self.compute_dtype)
        mean, scale = (tf.constant(self.scalers[k], self.compute_dtype)
                       for k in ("feature_mean", "feature_scale"))
        x = (x - mean) / scale
        return self.feature_weights(x) if self.feature_weights is not None else x

    def scores(self, x):
        """The HSM outputs Tr(ρ B_j): standardized targets or logits."""
        return self.hsm(self.standardized(x))

    def call(self, x):
        scores = self.scores(x)
        if self.task != "regression":
            return scores
        return scores * tf.constant(self.scalers["target_scale"], scores.dtype) + tf.constant(
            self.scalers["target_mean"], scores.dtype)

    def predict_labels(self, x):
        """Class labels (classification: the argmax class, binary: logit > 0) or the targets in
        their units (regression), as a numpy array."""
        outputs = keras.ops.convert_to_numpy(self(np.asarray(x)))
        if self.task == "regression":
            return outputs
        index = (outputs[:, 0] > 0).astype(int) if self.task == "binary" else outputs.argmax(-1)
        return np.asarray(self.classes)[index]

    def get_config(self):
        return {**super().get_config(), "layer": self.layer_spec,
                "weighted_layer": self.weighted_layer, "task": self.task, **self.scalers,
                "feature_names": self.feature_names, "target_names": self.target_names,
                "classes": self.classes}


def build_model(config, prepared):
    """A built ``HSMModel`` for a configuration and its ``Prepared`` data."""
    class_name, arguments = layer_arguments(config)
    model = HSMModel(
        {"class_name": class_name, "config": arguments}, config.weighted_layer, prepared.task,
        prepared.features.mean, prepared.features.scale, prepared.targets.mean,
        prepared.targets.scale, prepared.feature_names, prepared.target_names, prepared.classes)
    model.build((None, len(prepared.feature_names)))
    return model


class _Serving(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        features = len(model.scalers["feature_mean"])

        def predict(x):
            outputs = model(x)
            result = {"outputs": outputs}
            if model.task == "classification":
                result["class_index"] = tf.argmax(outputs, axis=-1, output_type=tf.int32)
            elif model.task == "binary":
                result["class_index"] = tf.cast(outputs[:, 0] > 0, tf.int32)
            return result
        self.predict = tf.function(predict, input_signature=[
            tf.TensorSpec([None, features], model.compute_dtype, name="x")])


def export(model, directory):
    """Write ``model.keras``, ``model.json`` (config) and a SavedModel whose signature
    ``predict(x [None, K] raw features)`` returns ``outputs`` (targets or logits) and, for
    classification, ``class_index`` (into ``model.classes``)."""
    with staged_directory(directory) as tmp:
        serving = _Serving(model)
        tf.saved_model.save(serving, tmp, signatures={"predict": serving.predict})
        model.save(os.path.join(tmp, "model.keras"))
        write_json_atomic(os.path.join(tmp, "model.json"),
                          {"class_name": "HSMModel", "config": model.get_config()})
    return directory
