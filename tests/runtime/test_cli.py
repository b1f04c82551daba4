"""The command-line kit (tfqsr.runtime.cli) on a toy entry point with subcommands
(tests/runtime/cli_program.py): parsing, one-line exit-2 errors from every source with nothing
written, a quiet start-up, and ``python -m tfqsr``."""
import importlib
import json
import os
import subprocess
import sys

import pytest

from tfqsr.__main__ import ENTRY_POINTS

PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli_program.py")
# The environment of a user who asked for nothing: start-up must be quiet without help.
QUIET_ENV = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TFQSR_TF_LOGS")}


def _run(out, *args):
    return subprocess.run([sys.executable, PROGRAM, f"--out={out}", *args], capture_output=True,
                          text=True, env=QUIET_ENV, timeout=300)


def _plan(out, *args):
    """The plan validate printed, with --only_check_args (validation only: no main)."""
    result = _run(out, *args, "--only_check_args")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert os.listdir(out) == []
    return json.loads(result.stdout)


# --- parsing -------------------------------------------------------------------------------

def test_global_flags_go_before_or_after_the_command(tmp_path):
    plan = _plan(tmp_path, "--tag=a", "train", "--lr=0.5", "--seed=3")
    assert plan == {"command": "train", "tag": "a", "seed": 3, "workspace": 2,
                    "config": {"device": "auto", "optimizer": {"lr": 0.5}}}


def test_a_flag_value_that_names_a_command_is_a_value(tmp_path):
    assert _plan(tmp_path, "--tag", "resume", "train")["tag"] == "resume"


def test_positional_argument_reaches_validate_by_name(tmp_path):
    plan = _plan(tmp_path, "resume", "run/best.ckpt", "--override_lr=0.1")
    assert (plan["command"], plan["checkpoint"], plan["override_lr"]) == ("resume", "run/best.ckpt", 0.1)


def test_translate_accepts_an_original_key_value_form(tmp_path):
    plan = _plan(tmp_path, "train", "lr=0.25", "workspace=5")
    assert (plan["config"]["optimizer"]["lr"], plan["workspace"]) == (0.25, 5)


def test_main_runs_after_validation_with_a_quiet_tensorflow(tmp_path):
    result = _run(tmp_path, "train", "--batch_size=3")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no TensorFlow start-up lines (CUDA not found, CPU features)
    written = json.loads((tmp_path / "train.json").read_text())
    assert written["tensorflow_loaded"] and written["command"] == "train"


# --- usage errors: one line, exit 2, nothing written -----------------------------------------

def _error(out, *args):
    result = _run(out, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert os.listdir(out) == [], "nothing is written on a usage error"
    return lines[0]


def test_unknown_flag(tmp_path):
    assert _error(tmp_path, "train", "--workspaces=3").startswith(
        "error: Unknown command line flag 'workspaces'. Did you mean: workspace ?")


def test_bad_flag_type(tmp_path):
    assert _error(tmp_path, "train", "--workspace=many") == (
        "error: flag --workspace=many: invalid literal for int() with base 10: 'many'")


def test_flag_of_another_command(tmp_path):
    assert "Unknown command line flag 'override_lr'" in _error(tmp_path, "train", "--override_lr=1")


def test_config_error(tmp_path):
    assert _error(tmp_path, "train", "--workspace=0") == "error: --workspace must be an integer >= 1, got 0"


def test_pydantic_error_names_the_field_and_what_is_allowed(tmp_path):
    assert _error(tmp_path, "train", "--device=mps") == (
        "error: ToyConfig field device: Input should be 'auto', 'cpu' or 'cuda', got 'mps'")


def test_pydantic_error_names_the_path_of_a_nested_field(tmp_path):
    assert _error(tmp_path, "train", "--lr=-1") == (
        "error: ToyConfig field optimizer.lr: Input should be greater than 0, got -1.0")


def test_dataset_constraint_found_by_main(tmp_path):
    assert _error(tmp_path, "train", "--batch_size=4") == (
        "error: --batch_size must be a divisor of the 6 sequences of the dataset, got 4")


def test_bad_positional(tmp_path):
    assert _error(tmp_path, "resume", "best.txt") == "error: CHECKPOINT must be a .ckpt file, got 'best.txt'"


def test_missing_positional(tmp_path):
    assert _error(tmp_path, "resume") == (
        "error: resume takes 1 positional argument(s), CHECKPOINT; got []")


def test_extra_positional(tmp_path):
    assert _error(tmp_path, "resume", "a.ckpt", "b.ckpt") == (
        "error: resume takes 1 positional argument(s), CHECKPOINT; got ['a.ckpt', 'b.ckpt']")


def test_positional_of_a_command_without_positionals(tmp_path):
    assert _error(tmp_path, "train", "data.csv") == (
        "error: unexpected positional arguments ['data.csv']; all options are flags")


def test_unknown_command(tmp_path):
    assert _error(tmp_path, "evaluate") == "error: the command must be one of train, resume, got 'evaluate'"


def test_missing_command(tmp_path):
    assert _error(tmp_path, "--seed=1") == "error: a command is required: one of train, resume"


# --- python -m tfqsr -------------------------------------------------------------------------

def test_python_m_tfqsr_lists_every_entry_point_in_one_line_each():
    result = subprocess.run([sys.executable, "-m", "tfqsr"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split()[2] for line in lines] == [f"tfqsr.{name}" for name in ENTRY_POINTS]
    assert lines[0].startswith("python -m tfqsr.train_decoder") and "variational Monte Carlo" in lines[0]


def test_listing_the_entry_points_loads_no_tensorflow():
    script = "import sys, tfqsr.__main__ as m; m.main(); print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[-1] == "False", result.stderr


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_entry_point_exposes_its_command(name):
    from tfqsr.runtime import cli
    command = importlib.import_module(f"tfqsr.{name}").COMMAND
    commands = command.values() if isinstance(command, dict) else [command]
    assert all(isinstance(c, cli.Command) for c in commands)
