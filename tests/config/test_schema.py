"""RunConfig is one schema for the command line, run.toml and Python: one list of fields, the
help of each option, and one line per bad value (naming run.toml when the value came from it)."""

from __future__ import annotations

import dataclasses

import pytest
import typer
from typer.core import TyperOption

from harness.cli import app
from harness.config.run_config import RunConfig, check_seed, load_config
from harness.config.schema import FIELDS, help_of
from harness.config.validation import validate_config
from harness.errors import ParameterError

CLI_ONLY = {"config"}  # --config names the run.toml; every other option is a field


def _options(name: str) -> dict[str, TyperOption]:
    command = typer.main.get_command(app).commands[name]
    return {p.name: p for p in command.params if isinstance(p, TyperOption)}


@pytest.mark.parametrize("command", ["run", "train"])
def test_every_option_of_run_and_train_is_a_field_with_its_help(command):
    options = _options(command)
    assert set(options) - CLI_ONLY <= set(FIELDS)
    for name, option in options.items():
        if name not in CLI_ONLY:
            assert option.help == help_of(name), name


def test_every_field_has_the_texts_of_its_help_and_its_errors():
    for field in dataclasses.fields(RunConfig):
        assert field.metadata["help"] and field.metadata["expected"], field.name


def test_the_defaults_are_valid_and_building_checks_nothing():
    validate_config(RunConfig())
    assert RunConfig(seed="3").seed == "3"  # plain data: check_config refuses it


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ({"seed": -1}, "--seed -1: expected a whole number from 0 to 4294967295"),
        ({"n_jobs": 0}, "--n-jobs 0: expected 1 or more workers"),
        ({"preset": "medium"}, "preset 'medium' is not one of quick, fast, full"),
        ({"features": "mp3"}, "features 'mp3' is not one of audio, official"),
        ({"resplit": "no"}, "resplit 'no': expected true or false"),
        ({"seeds": [0, "x"]}, "--seeds 0,x: 'x' is not a whole number from 0 to"),
        ({"models": ["prior", "prior"]}, "--models lists prior more than once"),
        ({"ddp": True, "seeds": [1, 2]}, "--seeds 1,2 with --ddp: a DDP run trains one seed"),
    ],
)
def test_a_bad_value_is_one_line(values, line):
    with pytest.raises(ParameterError) as caught:
        validate_config(RunConfig(**values))
    assert line in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_run_toml_value_names_the_file_even_when_the_command_line_replaces_it(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text("out = 5\nseed = 2\n")
    with pytest.raises(ParameterError, match=r"run\.toml: out = 5: expected a path"):
        load_config(toml, out=tmp_path)
    toml.write_text("seed = 2\n")
    assert load_config(toml, n_jobs=3).seed == 2
    with pytest.raises(ParameterError, match="^--seed 4294967296"):
        check_seed(2**32)
