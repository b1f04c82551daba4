"""VMC configuration pieces: method defaults, resolution, composition by another entry point,
and one TensorFlow-free module without an import cycle."""
import dataclasses
import pathlib
import subprocess
import sys

import pytest

from tfqsr.validation import ConfigError
from tfqsr.vmc import methods
from tfqsr.vmc.config import (ChainHamiltonianConfig, ConfigPiece, NaturalGradientConfig,
                              TrainingConfig, VMCConfig)

PRESET = pathlib.Path(__file__).resolve().parents[2] / "flags" / "train_decoder" / "tfim20_sr.flags"
NATURAL_GRADIENT_FIELDS = ("lr", "lr_schedule", "warmup_steps", "diag_shift", "diag_shift_decay",
                           "diag_shift_min")


def _preset_values(path):
    """{field: value} of a train_decoder flagfile (short flags by their field names)."""
    fields = {f"-{short}": name for name, short in VMCConfig.SHORT_NAMES.items()}
    values = {}
    for line in path.read_text().splitlines():
        if line.startswith("-"):
            flag, value = line.split("=", 1)
            values[fields.get(flag, flag.lstrip("-"))] = value
    return values


@pytest.mark.parametrize("method", ["sr", "minsr"])
def test_natural_gradient_defaults_are_those_of_the_tfim20_sr_preset(method):
    preset = _preset_values(PRESET)
    config = VMCConfig(optimizer=method).validate()
    assert {f: str(getattr(config, f)) for f in NATURAL_GRADIENT_FIELDS} == {
        f: preset[f] for f in NATURAL_GRADIENT_FIELDS}


def test_explicit_values_win_over_the_method_defaults():
    config = VMCConfig(optimizer="minsr", lr=0.01, lr_schedule="warmup", diag_shift=0.1).validate()
    assert (config.lr, config.lr_schedule, config.diag_shift) == (0.01, "warmup", 0.1)
    assert (config.warmup_steps, config.diag_shift_decay) == (20, 0.98)


@pytest.mark.parametrize("method", ["adam", "sgd"])
def test_gradient_methods_keep_their_defaults_and_leave_natural_gradient_fields_unset(method):
    config = VMCConfig(optimizer=method).validate()
    assert (config.lr, config.lr_schedule, config.warmup_steps) == (1e-3, "warmup", 100)
    assert (config.diag_shift, config.diag_shift_decay, config.diag_shift_min) == (None, None, None)
    assert config.build_preconditioner() is None


def test_resolve_takes_unset_values_from_the_run_being_resumed_first():
    previous = {"lr": 1e-3, "lr_schedule": "warmup", "warmup_steps": None}
    config = VMCConfig(optimizer="minsr", lr=0.2).resolve(previous)
    assert (config.lr, config.lr_schedule, config.warmup_steps) == (0.2, "warmup", 20)


def test_builders_resolve_an_unvalidated_configuration():
    from tfqsr.vmc.schedules import WarmupConstant
    config = VMCConfig(optimizer="minsr")
    schedule = config.build_schedule()
    assert isinstance(schedule, WarmupConstant) and schedule.get_config() == {
        "learning_rate": 0.05, "warmup_steps": 20}
    assert float(config.build_preconditioner().diag_shift(0)) == 0.01


def test_keyword_construction_and_a_flat_dictionary_of_flags():
    config = VMCConfig(system_size=20, steps=5)
    assert (config.system_size, config.steps, config.n_sites) == (20, 5, 20)
    assert set(config.to_dict()) == {f.name for f in dataclasses.fields(VMCConfig)}
    assert VMCConfig(**config.to_dict()) == config
    with pytest.raises(TypeError):
        VMCConfig(20)  # keyword-only


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ToyModelConfig(ConfigPiece):
    hidden: int = 8

    def check(self):
        self._integer("hidden", 1)

    def build_model(self):
        return ("toy model", self.n_sites, self.hidden, self.signed)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ToyVMCConfig(_ToyModelConfig, ChainHamiltonianConfig, NaturalGradientConfig, TrainingConfig):
    """Another entry point's configuration: its own model piece, the shared others."""


def test_another_entry_point_composes_the_pieces_with_its_own_model():
    config = _ToyVMCConfig(system_size=6, hamiltonian="heisenberg", optimizer="sr", hidden=4).validate()
    assert config.build_model() == ("toy model", 6, 4, True)
    assert (config.lr, config.diag_shift) == (0.05, 0.01)  # the method's defaults come along
    assert repr(config.build_hamiltonian()).startswith("Heisenberg(n_sites=6")
    with pytest.raises(ConfigError, match="--hidden must be an integer >= 1, got 0"):
        _ToyVMCConfig(hidden=0).validate()
    with pytest.raises(ConfigError, match="--system_size must be an integer >= 2, got 1"):
        _ToyVMCConfig(system_size=1).validate()
    with pytest.raises(ConfigError, match="--sr_solver must be one of direct, cg"):
        _ToyVMCConfig(sr_solver="lu").validate()


def test_one_list_of_solvers_and_methods():
    from tfqsr.vmc import config, natural_gradient
    assert natural_gradient.SOLVERS is methods.SR_SOLVERS is config.SR_SOLVERS
    assert natural_gradient.METHODS is methods.NATURAL_GRADIENT_METHODS
    assert set(methods.METHOD_DEFAULTS) == set(methods.OPTIMIZERS)


def test_configuration_loads_without_tensorflow_or_the_natural_gradient():
    script = ("import sys, tfqsr.vmc.config\n"
              "print(sorted(m for m in ('tensorflow', 'tfqsr.vmc.natural_gradient') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stderr
