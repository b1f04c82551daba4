"""The command line of ``python -m tfqsr.hsm``: flags, validation, the run and its report.

    python -m tfqsr.hsm --data=FILE.csv --config=CONFIG.json --run_dir=RUN
    python -m tfqsr.hsm --flagfile=flags/hsm/breast_cancer.flags
    horovodrun -np 2 python -m tfqsr.hsm --flagfile=flags/hsm/breast_cancer.flags

``--data``: a CSV file or ``sklearn:<name>`` (breast_cancer, diabetes, digits, iris, wine:
the tables that ship with scikit-learn). ``--config``: a JSON file of the configuration
(``tfqsr.hsm.config``) or the name of one in ``tfqsr/hsm/configs/`` (breast_cancer, diabetes,
digits). Everything (the JSON, the columns, the operator counts, the run directory) is checked
before any work: an error is one line and exit code 2. The run directory holds config.json
(the data and the resolved configuration), metrics.jsonl and events/ (one row per epoch),
checkpoints/ (every epoch; best/ by val_loss), export/ (model.keras with its scalers, a
SavedModel), test_metrics.json and plots/loss.png. Re-running the same command resumes;
``--epochs`` above the configuration's continues a finished run; another configuration in the
same directory is refused unless ``--overwrite``.
"""
import dataclasses
import os
import sys

from absl import flags

from tfqsr.hsm.config import read_config_argument
from tfqsr.runtime import cli, experiment
from tfqsr.validation import ConfigError

FLAGS = flags.FLAGS
TEST_METRICS_FILE = "test_metrics.json"
PLOT_FILE = os.path.join("plots", "loss.png")


@dataclasses.dataclass(frozen=True)
class HSMRun:
    """A run as ``runtime.experiment.check_run`` takes it: the data argument and the
    configuration (a JSON dict); stored flat in config.json."""
    data: str
    config: dict

    @property
    def seed(self):
        return self.config["seed"]

    def model_config(self):
        from tfqsr.hsm.config import load_config
        return load_config(self.config)

    def resolve(self, previous=None):
        del previous  # nothing is left to the stored run
        return self

    def validate(self):
        """The run with its configuration validated and resolved (defaults filled in), checked
        against the data; ConfigError or pydantic's ValidationError otherwise."""
        from tfqsr.hsm.data import check_device, prepare
        config = self.model_config()
        prepare(config, self.data)
        check_device(config.device)
        return HSMRun(self.data, config.model_dump(mode="json"))

    def to_dict(self):
        return {"data": self.data, **self.config}


def define_flags():
    flags.DEFINE_string("data", None, "A CSV file or sklearn:<name> (breast_cancer, diabetes, "
                        "digits, iris, wine).")
    flags.DEFINE_string("config", None, "A JSON configuration file, or the name of a bundled one "
                        "(breast_cancer, diabetes, digits).")
    flags.DEFINE_integer("epochs", None, "Override the configuration's epochs (raise it to "
                         "continue a finished run).")
    cli.define_run_flags("Run directory (default runs/hsm_<config name>).",
                         verbose="1 progress, 0 silent.",
                         overwrite="Replace a run directory holding another run.")
    flags.DEFINE_boolean("plot", True, "Write plots/loss.png (loss and val_loss per epoch).")


def validate():
    for name in ("data", "config"):
        if FLAGS[name].value is None:
            raise ConfigError(f"--{name} is required")
    source = read_config_argument(FLAGS.config)
    if FLAGS.epochs is not None:
        source = {**source, "epochs": FLAGS.epochs}
    stem = os.path.splitext(os.path.basename(FLAGS.config))[0]
    run_dir = FLAGS.run_dir or os.path.join("runs", f"hsm_{stem}")
    return experiment.check_run(HSMRun(FLAGS.data, source), run_dir, overwrite=FLAGS.overwrite,
                                resumable=("epochs",), defaults={})


def build(run, distributed):
    """(the ``Experiment`` of an ``HSMRun`` for ``runtime.experiment``, its ``Training``)."""
    from tfqsr.hsm.data import prepare
    from tfqsr.hsm.model import export
    from tfqsr.hsm.training import build_training

    config = run.model_config()
    training = build_training(config, prepare(config, run.data), distributed)

    def fit(run_dir, verbose):
        outcome, epochs = training.fit(run_dir, verbose)
        # Early stopping ends a run as surely as the last epoch: export it.
        return ("completed" if outcome == "stopped" else outcome), epochs

    name = type(training.model.hsm).__name__
    return experiment.Experiment(
        fit=fit, export=lambda directory: export(training.model, directory),
        description=f"{name} ({config.hsm_model}, {training.model.count_params()} parameters) "
                    f"on {run.data}: {len(training.prepared.train[0])} training, "
                    f"{len(training.prepared.validation[0])} validation, "
                    f"{len(training.prepared.test[0])} test rows"), training


def plot_losses(run_dir, path):
    """Loss (and val_loss) per epoch from metrics.jsonl, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tfqsr.runtime.logging import read_metrics
    rows = read_metrics(run_dir)
    figure, axis = plt.subplots(figsize=(6, 4))
    for key in ("loss", "val_loss"):
        points = [(row["epoch"], row[key]) for row in rows if key in row]
        if points:
            axis.plot(*zip(*points), label=key)
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.legend()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = path + ".tmp.png"
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    os.replace(temporary, path)


def main(plan):
    from tfqsr.hsm.training import evaluate
    from tfqsr.runtime.distributed import Distributed
    from tfqsr.runtime.files import write_json_atomic

    distributed = Distributed()
    built = {}

    def build_and_keep(run, distributed):
        built["experiment"], built["training"] = build(run, distributed)
        return built["experiment"]

    from tfqsr.runtime.loop import NonFiniteLossError
    try:
        outcome, epochs = experiment.run_experiment(plan, build_and_keep, verbose=FLAGS.verbose,
                                                    distributed=distributed)
    except NonFiniteLossError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    if not distributed.is_chief:
        return 0 if outcome == "completed" else 130
    if outcome != "completed":
        print(f"{outcome} after epoch {epochs}; run the same command again to resume", flush=True)
        return 130
    training = built["training"]
    metrics = evaluate(training.model, training.config, *training.prepared.test)
    write_json_atomic(os.path.join(plan.run_dir, TEST_METRICS_FILE), metrics)
    if FLAGS.plot:
        plot_losses(plan.run_dir, os.path.join(plan.run_dir, PLOT_FILE))
    print(f"epoch {epochs}: test " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items())),
          flush=True)
    return 0


COMMAND = cli.Command(validate=validate, main=main, define_flags=define_flags)

if __name__ == "__main__":
    cli.run(COMMAND)
