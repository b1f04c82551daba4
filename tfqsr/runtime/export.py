"""Export a trained wavefunction for serving and for the analysis tools.

    EXPORT/saved_model.pb, variables/   SavedModel with signatures
                                          log_psi(x: int32 [None, N]) -> {"log_psi": [None]}
                                          sample(n: int32 [], seed: int32 [2]) -> {"x": int32 [n, N]}
    EXPORT/model.keras                  the Keras model (architecture + weights)
    EXPORT/model.json                   the model's constructor arguments

Everything is written into a temporary directory that then replaces EXPORT (``runtime.files``).
"""
import os

import tensorflow as tf

from tfqsr.runtime.files import staged_directory, write_json_atomic


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
    with staged_directory(export_dir) as tmp:
        serving = _Serving(model)
        tf.saved_model.save(serving, tmp, signatures={"log_psi": serving.log_psi, "sample": serving.sample})
        model.save(os.path.join(tmp, "model.keras"))
        write_json_atomic(os.path.join(tmp, "model.json"),
                          {"class_name": type(model).__name__, "config": model.get_config()})
    return export_dir
