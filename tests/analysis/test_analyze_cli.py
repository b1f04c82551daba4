"""python -m tfqsr.analyze end to end on a tiny training run; bad flags exit 2 writing nothing;
under horovodrun the ranks split the samples and agree with one process within the errors."""
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A small but not trivial analysis: every estimator with a few hundred samples.
OPTIONS = ["--n_samples=400", "--offdiagonal_samples=200", "--saliency_samples=4", "--saliency_steps=2",
           "--verbose=0"]


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
    result = _run("tfqsr.analyze", f"--run_dir={run_dir}", *OPTIONS)
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


def _estimates(analysis_dir):
    """{name: (values, errors)} of every estimate the analysis wrote."""
    def read(name):
        with open(os.path.join(analysis_dir, f"{name}.json")) as f:
            return json.load(f)
    energy, correlations, entropy = read("energy"), read("correlations"), read("entropy")
    pairs = {f"{name} at distance r": correlations[name]["by_distance"] for name in ("zz", "zz_connected", "xx")}
    single = {name: correlations[name] for name in ("magnetization_z", "magnetization_x")}
    estimates = {"energy": ([energy["energy"]], [energy["energy_error"]]),
                 "entropy": (entropy["value"], entropy["error"])}
    for name, estimate in {**pairs, **single}.items():
        estimates[name] = (estimate["value"], estimate["error"])
    return {name: (np.array(v, float), np.array(e, float)) for name, (v, e) in estimates.items()}


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("horovod") is None,
                    reason="Horovod is not installed: run `bash launch/install_horovod.sh`")
def test_two_ranks_split_the_samples_and_agree_with_one_process(run_dir, tmp_path):
    """Each rank in its own copy of the run (relative --run_dir): rank 1 must write nothing."""
    single = tmp_path / "single"
    shutil.copytree(run_dir, single)
    assert _run("tfqsr.analyze", f"--run_dir={single}", *OPTIONS).returncode == 0
    for rank in range(2):
        shutil.copytree(run_dir, tmp_path / f"rank{rank}" / "run")
        shutil.rmtree(tmp_path / f"rank{rank}" / "run" / "analysis", ignore_errors=True)
    in_rank_dir = ["sh", "-c", 'cd "$0/rank$HOROVOD_RANK" && exec "$@"', str(tmp_path)]
    env = {**ENV, "PYTHONPATH": os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)}
    result = subprocess.run(
        [sys.executable, "-m", "horovod.runner.launch", "-np", "2", "-H", "localhost:2", "--gloo",
         *in_rank_dir, sys.executable, "-m", "tfqsr.analyze", "--run_dir=run", *OPTIONS],
        capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("results in run/analysis") == 1  # the summary, from rank 0 only
    assert not (tmp_path / "rank1" / "run" / "analysis").exists()

    one, two = _estimates(single / "analysis"), _estimates(tmp_path / "rank0" / "run" / "analysis")
    ratios = []
    for name, (value, error) in one.items():
        value2, error2 = two[name]
        defined = error > 0  # e.g. <Z_i Z_i> = 1 exactly
        deviation = np.abs(value2 - value)[defined] / np.hypot(error, error2)[defined]
        assert np.all(deviation < 5), (name, value, value2, error, error2)
        ratios.extend(error2[defined] / error[defined])
    # The same number of samples in all: errors of the same size (an average of per-rank errors
    # would be sqrt(2) larger).
    assert 0.8 < np.median(ratios) < 1.25, sorted(ratios)
    with open(tmp_path / "rank0" / "run" / "analysis" / "energy.json") as f:
        assert json.load(f)["n_samples"] == 200
