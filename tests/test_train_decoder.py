"""The train_decoder command line: bad input, resume after interruption, export."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.run_helpers import wait_for_metric_rows

QUICK = ["-s", "6", "--steps", "8", "--batch_size", "64", "-w", "4", "--lr", "0.01", "-h", "2",
         "--d_model", "8", "-r", "1", "--checkpoint_every", "2", "--verbose", "0"]


# The environment of a user who asked for nothing: start-up must be quiet without help.
QUIET_ENV = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TFQSR_TF_LOGS")}


def _command(run_dir, *extra):
    return [sys.executable, "-m", "tfqsr.train_decoder", *QUICK, f"--run_dir={run_dir}", *extra]


def _run(run_dir, *extra):
    return subprocess.run(_command(run_dir, *extra), capture_output=True, text=True, timeout=600,
                          env=QUIET_ENV)


def _variables(run_dir):
    reader = tf.train.load_checkpoint(os.path.join(run_dir, "checkpoints"))
    # save_counter counts checkpoints written, which an interruption adds to: not run state.
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name not in ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter/.ATTRIBUTES/VARIABLE_VALUE")}


def _metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("flags,named", [
    (["-d", "3"], "--dictionary_size (-d)"),
    (["-d", "4", "-s", "7"], "--system_size (-s)"),
    (["-h", "3"], "--num_heads (-h)"),
    (["-c", "0"], "--clip_distance (-c)"),
    (["--hamiltonian", "xyz"], "--hamiltonian"),
    (["--boundary", "twisted"], "--boundary"),
    (["--batch_size", "0"], "--batch_size"),
    (["--lr", "-1"], "--lr"),
    (["--intra_op_threads", "-1"], "--intra_op_threads"),
    (["--steps", "0"], "--steps"),
    (["--optimizer", "minsr", "--diag_shift", "0"], "--diag_shift"),
])
def test_bad_flags_exit_2_and_write_nothing(tmp_path, flags, named):
    run_dir = tmp_path / "run"
    result = _run(run_dir, *flags)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and "must be" in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not run_dir.exists()


@pytest.mark.parametrize("flags,message", [
    (["--stpes=3"], "error: Unknown command line flag 'stpes'"),
    (["--steps=many"], "error: flag --steps=many: invalid literal for int()"),
    (["extra"], "error: unexpected positional arguments ['extra']"),
], ids=["unknown_flag", "bad_type", "positional"])
def test_command_line_errors_are_one_line_and_write_nothing(tmp_path, flags, message):
    run_dir = tmp_path / "run"
    result = _run(run_dir, *flags)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith(message), \
        result.stderr
    assert not run_dir.exists()


# Parses the flags and prints the resolved configuration (no TensorFlow, no training).
RESOLVE = """
import json, sys
from absl import flags
from tfqsr import train_decoder
train_decoder.define_flags()
flags.FLAGS(["train_decoder", *sys.argv[1:]])
print(json.dumps(train_decoder.config_from_flags().validate().to_dict()))
"""


def _resolved(*flags):
    result = subprocess.run([sys.executable, "-c", RESOLVE, *flags], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("optimizer", ["sr", "minsr"])
def test_natural_gradient_flags_bring_their_defaults(optimizer):
    config = _resolved(f"--optimizer={optimizer}")
    assert {k: config[k] for k in ("lr", "lr_schedule", "warmup_steps", "diag_shift",
                                   "diag_shift_decay", "diag_shift_min")} == {
        "lr": 0.05, "lr_schedule": "constant", "warmup_steps": 20, "diag_shift": 0.01,
        "diag_shift_decay": 0.98, "diag_shift_min": 0.001}


def test_flags_given_win_over_the_method_defaults():
    config = _resolved("--optimizer=minsr", "--lr=0.01", "-w", "0", "--diag_shift_min=0.002")
    assert (config["lr"], config["warmup_steps"], config["diag_shift_min"]) == (0.01, 0, 0.002)
    assert (config["lr_schedule"], config["diag_shift"]) == ("constant", 0.01)


def test_adam_keeps_its_defaults():
    config = _resolved()
    assert (config["lr"], config["lr_schedule"], config["warmup_steps"]) == (1e-3, "warmup", 100)
    assert config["diag_shift"] is None  # the natural-gradient fields do not apply


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(run directory, completed process) of an uninterrupted run."""
    run_dir = tmp_path_factory.mktemp("runs") / "straight"
    result = _run(run_dir)
    assert result.returncode == 0, result.stderr
    return run_dir, result


@pytest.fixture(scope="module")
def finished_run(finished):
    return finished[0]


def test_start_up_and_training_write_nothing_to_stderr(finished):
    """No TensorFlow C++ log lines (CUDA not found, CPU features) without TFQSR_TF_LOGS."""
    assert finished[1].stderr == ""


def test_run_directory_layout(finished_run):
    for name in ("config.json", "metrics.jsonl", "events", "checkpoints", "export/saved_model.pb",
                 "export/model.keras", "export/model.json"):
        assert (finished_run / name).exists(), name
    config = json.loads((finished_run / "config.json").read_text())
    assert (config["lr"], config["lr_schedule"], config["warmup_steps"]) == (0.01, "warmup", 4)
    rows = _metrics(finished_run)
    assert [r["step"] for r in rows] == list(range(1, 9))
    for key in ("energy", "energy_error", "variance", "exact_energy", "relative_error"):
        assert all(isinstance(r[key], float) for r in rows), key


def test_another_configuration_in_the_run_directory_is_refused(finished_run):
    before = sorted(os.listdir(finished_run))
    result = _run(finished_run, "--field", "0.5")
    assert result.returncode == 2 and "--run_dir" in result.stderr and "field" in result.stderr
    assert sorted(os.listdir(finished_run)) == before


def test_rerunning_a_finished_run_changes_nothing(finished_run):
    before = _variables(finished_run)
    assert _run(finished_run).returncode == 0
    after = _variables(finished_run)
    assert all(np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("how", [signal.SIGTERM, pytest.param(signal.SIGKILL, marks=pytest.mark.slow)],
                         ids=["sigterm", "sigkill"])
def test_interrupted_run_resumes_to_the_same_result(tmp_path, finished_run, how):
    run_dir = tmp_path / "interrupted"
    process = subprocess.Popen(_command(run_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_metric_rows(process, run_dir)
    process.send_signal(how)
    process.wait(timeout=120)
    assert process.returncode in (130, -signal.SIGKILL), process.stderr.read().decode()
    assert len(_metrics(run_dir)) < 8, "interrupted too late to test anything"
    assert _run(run_dir).returncode == 0
    expected, resumed = _variables(finished_run), _variables(run_dir)
    assert expected.keys() == resumed.keys()
    for name in expected:
        np.testing.assert_array_equal(resumed[name], expected[name], err_msg=name)
    assert [r["energy"] for r in _metrics(run_dir)] == [r["energy"] for r in _metrics(finished_run)]


def test_saved_model_in_a_fresh_process_gives_the_same_log_psi(finished_run):
    import keras
    import tfqsr.wavefunctions  # noqa: F401  (registers the classes)
    model = keras.saving.load_model(str(finished_run / "export" / "model.keras"))
    x = np.random.default_rng(0).integers(0, 2, size=(16, 6)).astype(np.int32)
    script = (
        "import sys, json, numpy as np, tensorflow as tf\n"
        f"m = tf.saved_model.load({str(finished_run / 'export')!r})\n"
        "x = tf.constant(json.loads(sys.stdin.read()), tf.int32)\n"
        "print(json.dumps(m.signatures['log_psi'](x=x)['log_psi'].numpy().tolist()))\n"
        "s = m.signatures['sample'](n=tf.constant(5), seed=tf.constant([1, 2]))['x']\n"
        "print(json.dumps(s.numpy().tolist()))\n")
    result = subprocess.run([sys.executable, "-c", script], input=json.dumps(x.tolist()),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    log_psi, samples = [json.loads(line) for line in result.stdout.strip().splitlines()[-2:]]
    np.testing.assert_allclose(log_psi, model.log_psi(x).numpy(), atol=1e-6)
    np.testing.assert_array_equal(samples, model.sample(5, [1, 2]).numpy())
