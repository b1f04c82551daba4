"""python -m tfqsr.analyze end to end on a tiny training run; bad flags exit 2 writing nothing."""
import json
import math
import os
import subprocess
import sys

import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          env=ENV, timeout=600)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("analyze") / "run")
    result = _run("tfqsr.train_decoder", "-s", "6", "--steps", "3", "--batch_size", "64", "-w", "2",
                  "-h", "2", "--d_model", "8", "-r", "1", "--verbose", "0", f"--run_dir={path}")
    assert result.returncode == 0, result.stderr[-2000:]
    return path


def test_analyze_writes_json_and_plots(run_dir):
    result = _run("tfqsr.analyze", f"--run_dir={run_dir}", "--n_samples=400",
                  "--offdiagonal_samples=200", "--saliency_samples=4", "--saliency_steps=2",
                  "--verbose=0")
    assert result.returncode == 0, result.stderr[-2000:]
    out = os.path.join(run_dir, "analysis")
    for name in ("energy", "correlations", "entropy", "saliency"):
        assert os.path.getsize(os.path.join(out, f"{name}.json")) > 0
        assert os.path.getsize(os.path.join(out, f"{name}.png")) > 1000
    with open(os.path.join(out, "energy.json")) as f:
        energy = json.load(f)
    assert energy["exact_energy"] < 0 and math.isfinite(energy["energy"])
    assert energy["energy"] >= energy["exact_energy"] - 5 * energy["energy_error"]  # variational
    with open(os.path.join(out, "entropy.json")) as f:
        entropy = json.load(f)
    assert entropy["cuts"] == [1, 2, 3, 4, 5] and len(entropy["exact"]) == 5
    with open(os.path.join(out, "correlations.json")) as f:
        correlations = json.load(f)
    assert correlations["zz"]["matrix"]["value"][2][2] == 1.0
    with open(os.path.join(out, "saliency.json")) as f:
        saliency = json.load(f)
    assert all(saliency[name][0] == [0.0] * 6 for name in
               ("spin_flip", "input_x_gradient", "integrated_attention_gradient"))


@pytest.mark.parametrize("flags, message", [
    (["--n_samples=0"], "--n_samples must be an integer >= 1"),
    (["--renyi_order=1"], "--renyi_order must be an integer >= 2"),
    (["--offdiagonal_samples=3"], "--offdiagonal_samples must be an integer in"),
    (["--saliency_steps=0"], "--saliency_steps must be an integer >= 1"),
    (["--max_distance=0"], "--max_distance must be an integer >= 1"),
])
def test_bad_flags_exit_2_and_write_nothing(run_dir, tmp_path, flags, message):
    fresh = str(tmp_path / "copy")
    subprocess.run(["cp", "-r", run_dir, fresh], check=True)
    subprocess.run(["rm", "-rf", os.path.join(fresh, "analysis")], check=True)
    result = _run("tfqsr.analyze", f"--run_dir={fresh}", *flags)
    assert result.returncode == 2
    assert message in result.stderr
    assert not os.path.exists(os.path.join(fresh, "analysis"))


@pytest.mark.parametrize("make", ["missing", "no_export"])
def test_run_dir_without_export_exits_2(tmp_path, make):
    path = tmp_path / "run"
    if make == "no_export":
        path.mkdir()
        (path / "config.json").write_text("{}")
    result = _run("tfqsr.analyze", f"--run_dir={path}")
    assert result.returncode == 2 and "--run_dir must be" in result.stderr
