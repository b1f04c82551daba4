"""Every preset in flags/<entry point>/ parses with its own entry point's flags and passes its
validation (``--only_check_args``: nothing runs, nothing is written); a broken preset exits 2
with one line."""
import pathlib
import subprocess
import sys

import pytest

from tfqsr.__main__ import ENTRY_POINTS

FLAGS_DIR = pathlib.Path(__file__).resolve().parents[1] / "flags"
PRESETS = [(name, path.name) for name in ENTRY_POINTS for path in sorted((FLAGS_DIR / name).glob("*.flags"))]


def _analyze_arguments(tmp_path):
    """What an analyze preset leaves to the command line: a run directory to analyze."""
    run_dir = tmp_path / "run"
    (run_dir / "export").mkdir(parents=True)
    (run_dir / "config.json").write_text("{}")
    (run_dir / "export" / "model.keras").write_text("")
    return [f"--run_dir={run_dir}"]


# Arguments an entry point needs besides its presets (none for most). The l2hmc presets are
# training presets, and the command stays on the command line: ``python -m tfqsr.l2hmc train
# --flagfile=...``.
EXTRA_ARGUMENTS = {"analyze": _analyze_arguments, "l2hmc": lambda _: ["train"]}


def _check(name, preset, tmp_path, *extra):
    extra = [*EXTRA_ARGUMENTS.get(name, lambda _: [])(tmp_path), *extra]
    # In an empty directory: a preset's relative --run_dir must not meet an existing run.
    work = tmp_path / "work"
    work.mkdir()
    return subprocess.run([sys.executable, "-m", f"tfqsr.{name}", f"--flagfile={preset}", *extra,
                           "--only_check_args"], capture_output=True, text=True, cwd=work, timeout=120)


def test_presets_are_grouped_by_entry_point():
    assert not list(FLAGS_DIR.glob("*.flags")), "presets live in flags/<entry point>/"
    assert {p.name for p in FLAGS_DIR.iterdir()} <= set(ENTRY_POINTS)
    assert {("train_decoder", "quick.flags"), ("train_decoder", "tfim20_sr.flags"),
            ("analyze", "default.flags")} <= set(PRESETS)


@pytest.mark.parametrize("name,preset", PRESETS, ids=[f"{n}/{p}" for n, p in PRESETS])
def test_preset_is_valid(tmp_path, name, preset):
    result = _check(name, FLAGS_DIR / name / preset, tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("line,named", [("--optimizer=newton", "--optimizer must be one of"),
                                        ("--stpes=10", "Unknown command line flag 'stpes'")],
                         ids=["bad_value", "unknown_flag"])
def test_broken_preset_exits_2_with_one_line(tmp_path, line, named):
    preset = tmp_path / "bad.flags"
    preset.write_text((FLAGS_DIR / "train_decoder" / "quick.flags").read_text() + f"\n{line}\n")
    result = _check("train_decoder", preset, tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and named in result.stderr, result.stderr


def test_a_preset_of_one_entry_point_is_refused_by_another(tmp_path):
    result = _check("analyze", FLAGS_DIR / "train_decoder" / "quick.flags", tmp_path)
    assert result.returncode == 2 and "Unknown command line flag" in result.stderr
