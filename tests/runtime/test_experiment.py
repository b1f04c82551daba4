"""The shared start of a run (tfqsr.runtime.experiment): checking writes nothing, resolution
against the run being resumed (run directories made before the method defaults still resume),
and the order of prepare, seed, build, fit and export."""
import json

import pytest

from tfqsr.runtime.experiment import Experiment, check_run, run_experiment
from tfqsr.validation import ConfigError
from tfqsr.vmc.config import VMCConfig

# The keys of config.json in the first version of train_decoder (an Adam run).
FIRST_KEYS = ("system_size", "dictionary_size", "num_layers", "num_heads", "d_model", "clip_distance",
              "phase", "hamiltonian", "boundary", "field", "steps", "batch_size", "lr",
              "warmup_steps", "optimizer", "seed", "chunk_size", "checkpoint_every")
# A minSR run made when every method had Adam's defaults (ending at relative error 2.6e-2).
OLD_MINSR = {"lr": 1e-3, "lr_schedule": "warmup", "warmup_steps": 100, "diag_shift": 1e-3,
             "diag_shift_decay": 1.0, "diag_shift_min": 0.0}


def _stored_run(tmp_path, **fields):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(fields))
    return run_dir


def test_check_writes_nothing_and_plans_the_resolved_configuration(tmp_path):
    plan = check_run(VMCConfig(optimizer="minsr"), tmp_path / "run")
    assert plan.mode == "new" and not (tmp_path / "run").exists()
    assert (plan.config.lr, plan.config.lr_schedule, plan.config.diag_shift) == (0.05, "constant", 0.01)


def test_run_made_with_the_old_defaults_of_its_method_resumes_with_them(tmp_path):
    config = VMCConfig(optimizer="minsr")
    old = {**VMCConfig().validate().to_dict(), "optimizer": "minsr", **OLD_MINSR}
    plan = check_run(config, _stored_run(tmp_path, **old))
    assert plan.mode == "resume"
    assert {k: getattr(plan.config, k) for k in OLD_MINSR} == OLD_MINSR


def test_run_of_the_first_version_resumes(tmp_path):
    defaults = VMCConfig().validate().to_dict()
    plan = check_run(VMCConfig(), _stored_run(tmp_path, **{k: defaults[k] for k in FIRST_KEYS}))
    assert plan.mode == "resume" and plan.config.lr_schedule == "warmup"


def test_explicit_value_that_differs_from_the_stored_run_is_refused(tmp_path):
    old = {**VMCConfig().validate().to_dict(), "optimizer": "minsr", **OLD_MINSR}
    run_dir = _stored_run(tmp_path, **old)
    with pytest.raises(ConfigError, match=r"--run_dir: .*differs in: lr\)"):
        check_run(VMCConfig(optimizer="minsr", lr=0.05), run_dir)
    plan = check_run(VMCConfig(optimizer="minsr"), run_dir, overwrite=True)
    assert plan.mode == "overwrite" and plan.config.lr == 0.05  # a new run: the method's defaults


def test_invalid_configuration_is_refused_before_the_run_directory(tmp_path):
    with pytest.raises(ConfigError, match="--optimizer must be one of"):
        check_run(VMCConfig(optimizer="newton"), tmp_path / "run")


@pytest.mark.parametrize("outcome,exported", [("completed", True), ("interrupted", False)])
def test_run_prepares_seeds_builds_fits_and_exports_in_order(tmp_path, outcome, exported):
    import keras
    from tfqsr.runtime.distributed import Distributed
    plan = check_run(VMCConfig(optimizer="sr", seed=5), str(tmp_path / "run"))
    events = []

    def build(config, distributed):
        stored = json.loads((tmp_path / "run" / "config.json").read_text())
        assert stored == config.to_dict() and stored["lr"] == 0.05  # resolved values stored
        events.append(("build", float(keras.random.uniform([], seed=None))))
        return Experiment(fit=lambda run_dir, verbose: events.append(("fit", run_dir, verbose)) or (outcome, 7),
                          export=lambda directory: events.append(("export", directory)),
                          description="toy")

    assert run_experiment(plan, build, verbose=2, distributed=Distributed(use_horovod=False)) == (outcome, 7)
    keras.utils.set_random_seed(5)
    assert events[0] == ("build", float(keras.random.uniform([], seed=None)))
    assert events[1] == ("fit", plan.run_dir, 2)
    assert events[2:] == ([("export", f"{plan.run_dir}/export")] if exported else [])
