"""Export a trained wavefunction for serving and for the analysis tools.

    EXPORT/saved_model.pb, variables/   SavedModel with signatures
                                          log_psi(x: int32 [None, N]) -> {"log_psi": [None]}
                                          sample(n: int32 [], seed: int32 [2]) -> {"x": int32 [n, N]}
    EXPORT/model.keras                  the Keras model (architecture + weights)
    EXPORT/model.json                   the model's constructor arguments

Everything is written into a temporary directory that replaces EXPORT in one rename.
"""
import json
import os
import shutil

import tensorflow as tf


class _Serving(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        n_sites = model.n_sites
        self.log_psi = tf.function(
            lambda x: {"log_psi": model.log_psi(x)},
            input_signature=[tf.TensorSpec([None, n_sites], tf.int32, name="x")])
        self.sample = tf.function(
            lambda n, seed: {"x": model.sample(n, seed)},
            input_signature=[tf.TensorSpec([], tf.int32, name="n"),
                             tf.TensorSpec([2], tf.int32, name="seed")])


def export_wavefunction(model, export_dir):
    """Write the SavedModel, ``model.keras`` and ``model.json`` of ``model`` to ``export_dir``."""
    tmp = export_dir.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    serving = _Serving(model)
    tf.saved_model.save(serving, tmp, signatures={"log_psi": serving.log_psi, "sample": serving.sample})
    model.save(os.path.join(tmp, "model.keras"))
    with open(os.path.join(tmp, "model.json"), "w") as f:
        json.dump({"class_name": type(model).__name__, "config": model.get_config()}, f, indent=2)
    shutil.rmtree(export_dir, ignore_errors=True)
    os.replace(tmp, export_dir)
    return export_dir
