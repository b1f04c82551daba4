"""python -m tfqsr.l2hmc: every bad input is one line and exit 2 with nothing written (before
TensorFlow loads); the hmc command end to end; train then eval end to end (slow)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
QUICK = os.path.join(ROOT, "flags", "l2hmc", "quick.flags")


def _run(*args, cwd=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "tfqsr.l2hmc", *args], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=timeout)


def _assert_usage_error(result, named):
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr
    assert named in result.stderr, result.stderr


@pytest.mark.parametrize("flags,named", [
    (["--nt=1"], "--nt must be an integer >= 2"),
    (["--conv_filters=4,8", "--conv_sizes=3"], "--conv_sizes must be one odd positive kernel size"),
    (["--conv_filters=4,x"], "--conv_filters must be a comma-separated list of integers"),
    (["--units="], "--units must be one or more positive layer widths"),
    (["--precision=fp8"], "--precision must be one of fp32, fp64, fp16"),
    (["--charge_weight=0"], "--charge_weight must be > 0 when --plaq_weight is 0"),
    (["--chains=1"], "--chains must be an integer >= 2"),
    (["--beta_final=-1"], "--beta_final must be a real number >= 0"),
    (["--stpes=3"], "Unknown command line flag 'stpes'"),
    (["--group=su2"], "--group must be one of u1, su3"),
    (["--group=su3", "--conv_filters=4", "--conv_sizes=3"], "--conv_filters must be empty with --group=su3"),
    (["--group=su3", "--use_ncp"], "--use_ncp must be false with --group=su3"),
    (["--group=su3", "--precision=fp16"], "--precision must be fp32 or fp64 with --group=su3"),
    (["--group=su3", "--nz=1"], "--nz must be an integer >= 2"),
    (["--ny=4"], "--ny must be unset for --group=u1"),
    (["--c1=-0.08"], "--c1 must be a real number with --group=su3 (0 for --group=u1)"),
], ids=["nt", "conv_sizes_count", "conv_filters_text", "units_empty", "precision",
        "no_loss_term", "chains", "beta_final", "unknown_flag", "group", "su3_conv", "su3_ncp",
        "su3_fp16", "su3_nz", "u1_ny", "u1_c1"])
def test_bad_train_flags_exit_2_and_write_nothing(tmp_path, flags, named):
    run_dir = tmp_path / "run"
    _assert_usage_error(_run("train", f"--run_dir={run_dir}", *flags), named)
    assert not run_dir.exists()


@pytest.mark.parametrize("args,named", [
    (["eval", "--beta=2"], "--run_dir must be a training run directory"),
    (["eval", "--beta=2", "--run_dir=/nonexistent/run"], "--run_dir must be a completed training run"),
    (["eval", "--run_dir=."], "--beta must be a real number >= 0"),
    (["hmc", "--beta=2", "--target_accept=1.5"], "--target_accept must be in (0, 1)"),
    (["hmc", "--beta=2", "--precision=fp16"], "--precision must be fp32 or fp64"),
    (["hmc", "--beta=2", "--steps=1"], "--steps must be an integer >= 2"),
    (["hmc", "--beta=6", "--group=su3", "--ny=1"], "--ny must be an integer >= 2"),
    (["hmc", "--beta=6", "--group=su3", "--c1=x"], "--c1=x: could not convert string to float"),
    (["sample", "--beta=2"], "the command must be one of train, eval, hmc"),
    (["--beta=2"], "a command is required: one of train, eval, hmc"),
], ids=["eval_no_run_dir", "eval_missing_run", "eval_no_beta", "hmc_target_accept",
        "hmc_precision", "hmc_steps", "hmc_su3_ny", "hmc_su3_c1", "unknown_command", "no_command"])
def test_bad_eval_and_hmc_input_exits_2(tmp_path, args, named):
    _assert_usage_error(_run(*args, cwd=tmp_path), named)
    assert os.listdir(tmp_path) == []


def test_another_configuration_in_a_run_directory_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    assert _run("train", f"--flagfile={QUICK}", f"--run_dir={run_dir}", "--only_check_args").returncode == 0
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"nt": 6}))
    _assert_usage_error(_run("train", f"--flagfile={QUICK}", f"--run_dir={run_dir}"), "--run_dir")
    assert os.listdir(run_dir) == ["config.json"]


def test_an_existing_hmc_out_dir_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    _assert_usage_error(_run("hmc", "--beta=1", f"--out_dir={tmp_path / 'out'}"), "--out_dir")


@pytest.mark.slow
def test_hmc_command_writes_its_results(tmp_path):
    out = tmp_path / "hmc"
    result = _run("hmc", "--nt=4", "--nx=4", "--beta=1", "--steps=20", "--burn_in=10",
                  "--chains=8", "--num_leapfrog_steps=4", f"--out_dir={out}")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "hmc beta=1: plaquette" in result.stdout and "tuned step size" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gradient_evaluations"] == 4 and summary["steps"] == 20
    for name in ("trace.npz", "charge_history.png", "plaquette.png", "autocorrelation.png"):
        assert (out / name).exists(), name


@pytest.mark.slow
def test_a_preset_trains_and_eval_measures_the_trained_sampler(tmp_path):
    run_dir = tmp_path / "run"
    result = _run("train", f"--flagfile={QUICK}", f"--run_dir={run_dir}", "--verbose=0")
    assert result.returncode == 0, result.stderr
    assert (run_dir / "export" / "dynamics.json").exists() and (run_dir / "training.png").exists()
    result = _run("eval", f"--run_dir={run_dir}", "--beta=2", "--steps=20", "--burn_in=10", "--chains=8")
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "eval_beta2" / "summary.json").read_text())
    assert summary["sampler"] == "l2hmc" and summary["gradient_evaluations"] == 3


@pytest.mark.slow
def test_su3_hmc_and_the_quick_su3_preset_train_then_eval(tmp_path):
    out = tmp_path / "hmc"
    result = _run("hmc", "--group=su3", "--nt=2", "--nx=2", "--beta=6", "--steps=6", "--burn_in=4",
                  "--chains=4", "--num_leapfrog_steps=3", "--precision=fp64", f"--out_dir={out}")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["lattice"] == [2, 2, 2, 2] and summary["exact_plaquette"] is None
    run_dir = tmp_path / "run"
    preset = os.path.join(ROOT, "flags", "l2hmc", "su3_4x4x4x4_quick.flags")
    result = _run("train", f"--flagfile={preset}", "--nt=2", "--nx=2", "--steps_per_era=2",
                  f"--run_dir={run_dir}", "--verbose=0")
    assert result.returncode == 0, result.stderr
    config = json.loads((run_dir / "config.json").read_text())
    assert config["group"] == "su3" and config["ny"] == 2 and config["conv_filters"] == []
    result = _run("eval", f"--run_dir={run_dir}", "--beta=6", "--steps=4", "--burn_in=2", "--chains=4")
    assert result.returncode == 0, result.stderr
    assert json.loads((run_dir / "eval_beta6" / "summary.json").read_text())["gradient_evaluations"] == 3


@pytest.mark.slow
def test_two_horovod_ranks_split_the_chains_and_write_one_run(tmp_path):
    """horovodrun -np 2: every rank moves half of the chains; rank 0 writes the run directory."""
    run_dir = tmp_path / "run"
    env = {**ENV, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    result = subprocess.run(
        ["horovodrun", "-np", "2", "-H", "localhost:2", "--gloo", sys.executable, "-m", "tfqsr.l2hmc",
         "train", f"--flagfile={QUICK}", "--steps_per_era=2", f"--run_dir={run_dir}", "--verbose=0"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert (run_dir / "export" / "dynamics.json").exists()
