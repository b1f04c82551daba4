"""Hilbert space models on scikit-learn's tables beside classical baselines, and the cost of an
epoch against the Hilbert space dimension.

    python benchmarks/bench_hsm.py [--datasets=breast_cancer,diabetes,digits] [--seeds=42]
        [--models=general,pauli] [--dims=8,16,32,64] [--skip_accuracy] [--skip_timing]

Accuracy: each table is split as the bundled configuration says (tfqsr/hsm/configs/<name>.json:
80/20 train/test, a fifth of the training part for validation and early stopping, split seed
= ``--seeds``), and the same training and test rows go to GeneralHSM (the bundled
configuration), PauliHSM (the same configuration with ``hsm_model="pauli"`` on 2 qubits, d = 4,
all 16 Pauli strings) and to scikit-learn's logistic regression (classification) or
linear regression, and a random forest (300 trees), all on standardized features. Printed: test
accuracy (classification) or R² (diabetes) per seed, and their mean. Breast cancer's target is
>= 95% (Qognitive's published figure is about 88.6%).

Timing: seconds per epoch of GeneralHSM (complex, ground state) on 30 features, 2 outputs and
640 rows at batch 64 (10 optimizer steps), for each d of ``--dims`` (the eigensolver is O(d³)
per row), after a first epoch that traces the step; an epoch includes its checkpoint. On a shared machine timings are noisy.
"""
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
DATASETS = ("breast_cancer", "diabetes", "digits")
PAULI_QUBITS = 2  # d = 4, all 16 Pauli strings


def define_flags():
    flags.DEFINE_list("datasets", list(DATASETS), f"Any of {', '.join(DATASETS)}.")
    flags.DEFINE_list("seeds", ["42"], "Split and initialization seeds (one run per seed).")
    flags.DEFINE_list("models", ["general", "pauli"], "HSM layers to train: general, pauli.")
    flags.DEFINE_list("dims", ["8", "16", "32", "64"], "Hilbert space dimensions to time.")
    flags.DEFINE_integer("timing_epochs", 5, "Epochs timed per dimension (after a traced one).")
    flags.DEFINE_boolean("skip_accuracy", False, "Only the timing.")
    flags.DEFINE_boolean("skip_timing", False, "Only the accuracy.")


def _configs(name, seed):
    from tfqsr.hsm.config import read_config_argument
    general = {**read_config_argument(name), "seed": seed}
    pauli = {key: value for key, value in general.items()
             if key not in ("hilbert_space_dims", "complex")}
    pauli.update(hsm_model="pauli", qubits_count=PAULI_QUBITS)
    return {"general": general, "pauli": pauli}


def _baselines(prepared, seed):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression
    (x, y), (x_test, y_test) = (np.concatenate([prepared.train[0], prepared.validation[0]]),
                                np.concatenate([prepared.train[1], prepared.validation[1]])), prepared.test
    mean, scale = x.mean(0), x.std(0) + 1e-12
    x, x_test = (x - mean) / scale, (x_test - mean) / scale
    if prepared.task == "regression":
        y, y_test = y.ravel(), y_test.ravel()
        models = {"linear regression": LinearRegression(),
                  "random forest": RandomForestRegressor(300, random_state=seed, n_jobs=1)}
    else:
        models = {"logistic regression": LogisticRegression(max_iter=5000),
                  "random forest": RandomForestClassifier(300, random_state=seed, n_jobs=1)}
    # score: accuracy (classifiers) or R² (regressors), as sklearn defines them
    return {label: model.fit(x, y).score(x_test, y_test) for label, model in models.items()}


def accuracy():
    from tfqsr.hsm import fit
    from tfqsr.hsm.config import load_config
    from tfqsr.hsm.data import prepare
    for name in FLAGS.datasets:
        scores, seconds = {}, {}
        for seed in map(int, FLAGS.seeds):
            configs = _configs(name, seed)
            prepared = prepare(load_config(configs["general"]), f"sklearn:{name}")
            for model in FLAGS.models:
                start = time.perf_counter()
                result = fit(configs[model], f"sklearn:{name}", verbose=0)
                seconds.setdefault(model, []).append(time.perf_counter() - start)
                metric = result.test_metrics["r2" if prepared.task == "regression" else "accuracy"]
                scores.setdefault(f"{model} HSM", []).append(metric)
                print(f"  {name} seed {seed} {model}: {metric:.4f} after {len(result.history)} "
                      f"epochs, {seconds[model][-1]:.0f} s", flush=True)
            for label, value in _baselines(prepared, seed).items():
                scores.setdefault(label, []).append(value)
        what = "R²" if prepared.task == "regression" else "accuracy"
        print(f"{name} (test {what}, {len(prepared.test[0])} test rows, mean of "
              f"{len(FLAGS.seeds)} seed(s)):")
        for label, values in scores.items():
            print(f"  {label:<22} {np.mean(values):.4f}  ({', '.join(f'{v:.4f}' for v in values)})")


def timing():
    import keras
    import pandas as pd
    from tfqsr.hsm.config import load_config
    from tfqsr.hsm.data import prepare
    from tfqsr.hsm.training import build_training
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(800, 30)), columns=[f"x{i}" for i in range(30)])
    frame["label"] = (frame.x0 > 0).astype(int)
    print("seconds per epoch, GeneralHSM, 30 features, 2 outputs, 640 rows, batch 64:")
    for d in map(int, FLAGS.dims):
        config = load_config({"hsm_model": "general", "input_operator_count": 30,
                              "output_operator_count": 2, "hilbert_space_dims": d,
                              "targets": "label", "batch_size": 64, "validation_split": 0.0,
                              "loss_function_config": {"type": "CrossEntropyLoss"}})
        keras.utils.set_random_seed(0)
        training = build_training(config, prepare(config, frame))
        with tempfile.TemporaryDirectory() as run_dir:
            training.trainer.fit(1, run_dir, verbose=0)
            start = time.perf_counter()
            training.trainer.fit(1 + FLAGS.timing_epochs, run_dir, verbose=0)
            per_epoch = (time.perf_counter() - start) / FLAGS.timing_epochs
        print(f"  d = {d:>3}: {per_epoch:.3f} s/epoch ({per_epoch / 10 * 1e3:.1f} ms per step "
              f"of 64 rows)", flush=True)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    if not FLAGS.skip_accuracy:
        accuracy()
    if not FLAGS.skip_timing:
        timing()


if __name__ == "__main__":
    define_flags()
    app.run(main)
