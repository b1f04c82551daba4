"""Every preset in flags/ parses with its entry point's flags and passes validation."""
import pathlib
import subprocess
import sys

import pytest

FLAGS_DIR = pathlib.Path(__file__).resolve().parents[1] / "flags"
TRAIN_PRESETS = sorted(p.name for p in FLAGS_DIR.glob("*.flags") if p.name != "analyze.flags")

# Parses one flagfile with python -m tfqsr.train_decoder's flags and validates the configuration
# (no TensorFlow, no training): prints the configuration or exits 2 with the ConfigError.
VALIDATE = """
import sys
from absl import flags
from tfqsr import train_decoder
from tfqsr.validation import ConfigError
train_decoder.define_flags()
flags.FLAGS(["train_decoder", "--flagfile=" + sys.argv[1]])
try:
    print(train_decoder.config_from_flags())
except ConfigError as error:
    print(error)
    sys.exit(2)
"""


def _validate(path):
    return subprocess.run([sys.executable, "-c", VALIDATE, str(path)], capture_output=True, text=True,
                          timeout=120)


def test_there_are_presets():
    assert {"quick.flags", "tfim100_sr.flags", "tfim20_sr.flags"} <= set(TRAIN_PRESETS)


@pytest.mark.parametrize("preset", TRAIN_PRESETS)
def test_train_decoder_preset_is_valid(preset):
    result = _validate(FLAGS_DIR / preset)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_invalid_preset_is_reported(tmp_path):
    preset = tmp_path / "bad.flags"
    preset.write_text((FLAGS_DIR / "quick.flags").read_text() + "\n--optimizer=newton\n")
    result = _validate(preset)
    assert result.returncode == 2 and "optimizer" in result.stdout
