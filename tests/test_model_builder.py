"""python -m tfqsr.model_builder: absl flags and the NN-QSR form, every bad input (one line,
exit 2, nothing written), group help, the run directory, resume after SIGTERM, the data term."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.run_helpers import wait_for_metric_rows
from tfqsr.vmc import original_form

QUIET_ENV = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TFQSR_TF_LOGS")}
# 3x3 array, an RNN over 1x3 patches: a few steps in a few seconds.
QUICK = ["--L=9", "--model=rnn", "--patch=1x3", "--Nh=8", "--K=32", "--NLOOPS=3", "--lr=0.01",
         "--steps=8", "--checkpoint_every=2", "--verbose=0"]


def _run(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "tfqsr.model_builder", *args], capture_output=True,
                          text=True, timeout=timeout, env=QUIET_ENV)


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _variables(run_dir):
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name not in ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter/.ATTRIBUTES/VARIABLE_VALUE")}


# --- the original form -----------------------------------------------------------------------
def test_original_ptf_command_translates_to_flags():
    args = "L=64 NLOOPS=16 sgrad=False steps=4000 --ptf _2D=True patch=2".split()
    assert original_form.to_flags(args) == [
        "--L=64", "--NLOOPS=16", "--sgrad=False", "--steps=4000", "--model=ptf", "--patch=2x2"]


def test_original_lptf_command_translates_to_flags():
    args = "L=256 --lptf _2D=True patch=4 --rnn L=16 patch=2 Nh=128".split()
    assert original_form.to_flags(args) == [
        "--L=256", "--model=lptf", "--patch=4x4", "--sub_model=rnn", "--sub_patch=2", "--sub_Nh=128"]


def test_training_arguments_before_any_group_count():
    """The original dropped arguments before the first group; here they are training arguments."""
    assert original_form.to_flags(["K=64", "--train", "steps=5", "--rnn", "patch=3"]) == [
        "--K=64", "--steps=5", "--model=rnn", "--patch=3"]


def test_original_sgrad_translates_to_the_absl_flag():
    assert original_form.to_flags(["L=9", "sgrad=True", "--rnn"]) == ["--L=9", "--sgrad=True", "--model=rnn",
                                                                      "--patch=1"]


def test_absl_flags_pass_through_unchanged():
    assert original_form.to_flags(["--L=16", "--model=rnn"]) == ["--L=16", "--model=rnn"]
    assert original_form.to_flags(["L=16", "--run_dir=x", "--rnn"]) == ["--L=16", "--model=rnn",
                                                                       "--patch=1", "--run_dir=x"]


@pytest.mark.parametrize("group,names", [("--training", ["NLOOPS", "sgrad", "kl"]),
                                         ("--rnn", ["Nh", "rnntype"]),
                                         ("--ptf", ["nhead", "dropout", "_2D"]),
                                         ("--lptf", ["Nh MUST".split()[0], "patch"])])
def test_help_of_a_group(group, names):
    result = _run("--help", group)
    assert result.returncode == 0 and all(name in result.stdout for name in names), result.stdout
    assert "Example: python -m tfqsr.model_builder" in result.stdout


@pytest.mark.slow  # default suite: the translation tests and tests/vmc/test_data_term.py
def test_original_form_trains_an_lptf(tmp_path):
    """3x3: an LPTF over 1x3 large patches of single atoms, with an RNN subsampler."""
    run_dir = tmp_path / "original"
    result = _run("L=9", "K=16", "NLOOPS=3", "steps=2", f"dir={run_dir}", "--lptf", "patch=3", "Nh=8",
                  "nhead=2", "--rnn", "L=3", "patch=1", "Nh=8", "--verbose=0")
    assert result.returncode == 0, result.stderr
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["model"], config["patch"], config["sub_model"], config["sub_Nh"], config["K"],
            config["B"], config["lr"]) == ("lptf", "3", "rnn", 8, 16, 16, 5e-4)
    assert [r["step"] for r in _metrics(run_dir)] == [1, 2]


# --- bad input: one line, exit 2, nothing written ----------------------------------------------
@pytest.mark.parametrize("args,named", [
    (["L=9", "foo=1", "--rnn"], "--train foo: unknown argument"),
    (["L=9", "--rnn", "Nh=many"], "flag --Nh=many"),
    (["--model=cnn"], "--model must be one of rnn, ptf, lptf"),
    (["--rnntype=LSTM", "--model=rnn"], "--rnntype must be one of GRU, ELMAN"),
    (["L=64", "--lptf", "_2D=True", "patch=4", "Nh=64", "--rnn", "L=16", "patch=2", "Nh=128"],
     "--sub_Nh must be equal to --Nh=64"),
    (["L=64", "--lptf", "_2D=True", "patch=4", "--rnn", "L=9", "patch=2"], "--rnn L must equal the atoms"),
    (["--L=64", "--patch=2x2", "--NLOOPS=3"], "--NLOOPS must be a divisor of the number of tokens 16"),
    (["L=10", "--ptf", "_2D=True", "patch=2"], "--L must be a square number"),
    (["--L=36", "--patch=4x4"], "--patch must be a patch whose sides divide the lattice 6x6"),
    (["--L=16", "--model=lptf", "--patch=2x2", "--sub_patch=3"], "--sub_patch must be a patch whose sides"),
    (["--L=16", "--K=32", "--Q=2", "--B=32"], "--B must be --Q * --K = 64"),
    (["--L=16", "--kl=0.5"], "--data must name a snapshot file"),
    (["--L=16", "--pretrain_steps=5"], "--data must name a snapshot file"),
    (["L=16", "sgrad=maybe", "--rnn"], "flag --sgrad=maybe"),
    (["--L=16", "--Nh=30"], "--Nh must be a multiple of 4"),
    (["--L=16", "--optimizer=lbfgs"], "--optimizer must be one of adam, sgd, sr, minsr"),
    (["--L=16", "--optimizer=minsr", "--sgrad"], "--sgrad must be False with --optimizer=minsr"),
    (["--L=16", "--optimizer=sr", "--kl=0.5", "--data=s.npz"], "--kl must be 0 with --optimizer=sr"),
    (["--L=16", "--optimizer=minsr", "--pretrain_steps=5", "--data=s.npz"],
     "--pretrain_steps must be 0 with --optimizer=minsr"),
    (["--L=16", "--optimizer=minsr", "--diag_shift=-1"], "--diag_shift must be a positive number"),
    (["--stpes=3"], "Unknown command line flag 'stpes'"),
], ids=["unknown_name", "bad_value", "model", "rnntype", "nh_mismatch", "sub_L", "nloops", "not_square",
        "patch", "sub_patch", "batch", "kl_without_data", "pretrain_without_data", "sgrad", "width",
        "optimizer", "sgrad_natural_gradient", "kl_natural_gradient", "pretrain_natural_gradient",
        "diag_shift", "unknown_flag"])
def test_bad_input_exits_2_with_one_line(tmp_path, args, named):
    run_dir = tmp_path / "run"
    result = _run(*args, f"--run_dir={run_dir}")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and named in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not run_dir.exists()


def test_bad_snapshot_file_exits_2(tmp_path):
    np.savez(tmp_path / "s.npz", samples=np.zeros((5, 4), np.int8))
    result = _run("--L=9", "--kl=1", f"--data={tmp_path / 's.npz'}", f"--run_dir={tmp_path / 'run'}")
    assert result.returncode == 2 and "--data must hold a 0/1 array [M >= 1, 9]" in result.stderr, result.stderr
    assert not (tmp_path / "run").exists()


# --- runs --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "straight"
    result = _run(*QUICK, f"--run_dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir, result


def test_run_directory_and_metrics(finished):
    run_dir, result = finished
    assert result.stderr == ""
    for name in ("config.json", "events", "checkpoints", "export/saved_model.pb", "export/model.keras"):
        assert (run_dir / name).exists(), name
    rows = _metrics(run_dir)
    assert [r["step"] for r in rows] == list(range(1, 9))
    exact = rows[0]["exact_energy"]
    for r in rows:
        assert r["energy_per_atom"] == pytest.approx(r["energy"] / 9)
        assert r["reference_energy_per_atom"] == pytest.approx(exact / 9)
        assert r["difference_per_atom"] == pytest.approx(r["energy_per_atom"] - exact / 9)
    assert "difference" in result.stdout.splitlines()[-1]


@pytest.mark.parametrize("side,model,compiled", [(8, "ptf", True), (16, "ptf", False), (8, "lptf", True),
                                                 (8, "rnn", False)])
def test_transformers_compile_connected_configurations_up_to_16_tokens(side, model, compiled):
    """XLA for the transformers' neighbour evaluation at 8x8 in 2x2 patches (16 tokens), not at
    16x16 (64 tokens, whose compilation did not end in 15 minutes); the RNN never needs it."""
    from tfqsr.vmc.lattice_config import ModelBuilderConfig
    patch = "4x4" if model == "lptf" else "2x2"
    config = ModelBuilderConfig(L=side * side, model=model, patch=patch, Nh=16, nhead=2,
                                sub_patch="2x2", sub_Nh=16).validate()
    assert config.build_model().connected_jit_compile is compiled


def test_sgrad_reaches_the_trainer():
    from tfqsr.vmc.lattice_config import ModelBuilderConfig
    config = ModelBuilderConfig(L=9, model="rnn", patch="3", Nh=8, sgrad=True).validate()
    model = config.build_model()
    arguments = config.trainer_arguments(model=model, hamiltonian=config.build_hamiltonian(), exact_energy=-4.8)
    assert arguments["sgrad"] is True


@pytest.mark.slow  # ~10 s; default suite: the translation, the trainer argument and tests/vmc/test_sgrad.py
def test_sgrad_trains_from_the_original_form(tmp_path):
    """sgrad=True (the original's form; ``--sgrad`` is the same absl flag): log psi for the
    gradient is kept from the sampling pass."""
    run_dir = tmp_path / "sgrad"
    result = _run("L=9", "sgrad=True", "steps=2", "K=16", "lr=0.01", "--rnn", "patch=3", "Nh=8",
                  f"--run_dir={run_dir}", "--verbose=0")
    assert result.returncode == 0, result.stderr
    assert json.loads((run_dir / "config.json").read_text())["sgrad"] is True
    rows = _metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2] and all(np.isfinite(r["energy"]) for r in rows)


def test_minsr_trains_an_rnn_from_the_command_line(tmp_path):
    """--optimizer=minsr brings its defaults (a constant 0.05, a decaying diagonal shift) and
    logs the solve; the RNN's per-sample gradients: tests/vmc/test_natural_gradient.py."""
    run_dir = tmp_path / "minsr"
    result = _run(*QUICK, "--optimizer=minsr", "--steps=3", f"--run_dir={run_dir}")
    assert result.returncode == 0, result.stderr
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["lr"], config["lr_schedule"], config["diag_shift"]) == (0.01, "constant", 0.01)
    rows = _metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(np.isfinite(r["energy"]) and "diag_shift" in r for r in rows)


def test_interrupted_run_resumes_to_the_same_result(tmp_path, finished):
    run_dir = tmp_path / "interrupted"
    process = subprocess.Popen([sys.executable, "-m", "tfqsr.model_builder", *QUICK, f"--run_dir={run_dir}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=QUIET_ENV)
    wait_for_metric_rows(process, run_dir)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    assert process.returncode == 130, process.stderr.read().decode()
    assert len(_metrics(run_dir)) < 8, "interrupted too late to test anything"
    assert _run(*QUICK, f"--run_dir={run_dir}").returncode == 0
    expected, resumed = _variables(finished[0]), _variables(run_dir)
    assert expected.keys() == resumed.keys()
    for name in expected:
        np.testing.assert_array_equal(resumed[name], expected[name], err_msg=name)
    assert [r["energy"] for r in _metrics(run_dir)] == [r["energy"] for r in _metrics(finished[0])]


@pytest.mark.slow  # default suite: the translation tests and tests/vmc/test_data_term.py
def test_pretraining_and_data_term_from_the_command_line(tmp_path):
    data = tmp_path / "snapshots.npz"
    made = subprocess.run([sys.executable, "-m", "tfqsr.vmc.snapshots", "--Lx=3", "--Ly=3",
                           "--samples=500", f"--output={data}"], capture_output=True, text=True,
                          env=QUIET_ENV, timeout=300)
    assert made.returncode == 0, made.stderr
    run_dir = tmp_path / "data"
    result = _run(*QUICK, "--steps=2", "--pretrain_steps=2", "--kl=0.5", f"--data={data}",
                  f"--run_dir={run_dir}")
    assert result.returncode == 0, result.stderr
    rows = _metrics(run_dir)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all("nll" in r and "energy" not in r for r in rows[:2])
    assert all("nll" in r and "energy" in r for r in rows[2:])


@pytest.mark.slow
def test_3x3_reaches_relative_error_below_1e_3(tmp_path):
    """The quick preset's model from the command line; its exact variational energy vs ED."""
    import keras
    import tfqsr.wavefunctions  # noqa: F401  (registers the classes)
    from tests.references import exact_variational_energy
    from tfqsr import exact, operators
    run_dir = tmp_path / "converge"
    result = _run("--flagfile=flags/model_builder/quick.flags", f"--run_dir={run_dir}", "--verbose=0",
                  timeout=3000)
    assert result.returncode == 0, result.stderr
    model = keras.saving.load_model(str(run_dir / "export" / "model.keras"))
    op = operators.Rydberg(3, 3)
    e0 = exact.exact_energy(op)
    assert abs(exact_variational_energy(model, op) - e0) / abs(e0) < 1e-3


# --- Horovod -----------------------------------------------------------------------------------
@pytest.mark.slow  # 1-4 min: two ranks under horovodrun
def test_horovod_ranks_train_equal_models(tmp_path):
    """horovodrun -np 2: both ranks end with bitwise equal weights, rank 0 alone writes the run
    directory (tests/vmc/model_builder_horovod_worker.py)."""
    pytest.importorskip("horovod.tensorflow", reason="Horovod is not installed")
    import keras

    import tfqsr.wavefunctions  # noqa: F401  (registers the classes)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**QUIET_ENV, "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p),
           "TF_CPP_MIN_LOG_LEVEL": "3", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "horovod.runner.launch", "-np", "2", "-H", "localhost:2", "--gloo",
         sys.executable, os.path.join(repo, "tests", "vmc", "model_builder_horovod_worker.py"), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert [r["step"] for r in _metrics(tmp_path / "run")] == [1, 2, 3, 4]
    events = os.listdir(tmp_path / "run" / "events")
    assert len(events) == 1, events
    models = [keras.saving.load_model(tmp_path / f"rank{rank}" / "model.keras") for rank in range(2)]
    weights = [[w.numpy() for w in model.weights] for model in models]
    assert len(weights[0]) > 0
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)
