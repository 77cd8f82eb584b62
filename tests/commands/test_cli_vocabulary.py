"""One CLI vocabulary: one option name per concept, --version, an example in every help."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import types
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

import harness
from harness.cli import app
from harness.run.manifest import package_versions

# parameter name -> the option strings it must have wherever a command takes it
VOCABULARY = {
    "root": (["--root", "--fma-root"], []),
    "subset": (["--subset"], []),
    "cache_dir": (["--cache-dir"], []),
    "out": (["--out"], []),
    "seed": (["--seed"], []),
    "n_jobs": (["--n-jobs"], []),
    "device": (["--device"], []),
    "test_dir": (["--test-dir"], []),
    "scheduler": (["--scheduler"], []),
    "min_duration": (["--min-duration"], []),
    "resplit": (["--resplit"], ["--official-split", "--no-resplit"]),
}


def _commands(command, path: tuple[str, ...] = ()):
    """(path, command) for the app, every command and every sub-app's commands."""
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


ALL_COMMANDS = list(_commands(typer.main.get_command(app)))
COMMAND_IDS = [" ".join(path) or "fma-harness" for path, _ in ALL_COMMANDS]


def test_every_expected_command_is_registered():
    paths = {" ".join(path) for path, _ in ALL_COMMANDS}
    expected = {"run", "train", "models", "check", "report", "features", "validate", "score"}
    expected |= {"submit", "data", "data synth", "data splits", "data decode-check"}
    assert expected <= paths


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=COMMAND_IDS)
def test_every_help_shows_an_example(path, command):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=COMMAND_IDS)
def test_same_concept_same_option_name(path, command):
    params = {p.name: p for p in command.params if isinstance(p, TyperOption)}
    assert "fma_root" not in params  # --fma-root is only an alias of --root
    for name, (opts, secondary) in VOCABULARY.items():
        if name in params:
            assert params[name].opts == opts, (path, name)
            assert params[name].secondary_opts == secondary, (path, name)


def test_commands_with_a_dataset_take_the_shared_options():
    by_path = {" ".join(path): command for path, command in ALL_COMMANDS}
    for path in ("run", "train", "check", "features"):
        names = {p.name for p in by_path[path].params if isinstance(p, TyperOption)}
        assert {"root", "subset", "cache_dir", "seed", "n_jobs"} <= names, path
    for path in ("run", "train"):
        assert {"device", "out", "test_dir", "scheduler"} <= {p.name for p in by_path[path].params}


def test_version_prints_name_and_version():
    # the installed distribution's version, the one the run manifest records, and the
    # package's own __version__ (which the bundles record) are one version
    installed = importlib.metadata.version("fma-harness")
    assert installed == harness.__version__
    assert package_versions()["fma-harness"] == installed
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"fma-harness {installed}\n"
    shell = subprocess.run(
        [sys.executable, "-m", "harness", "--version"], capture_output=True, text=True
    )
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == f"fma-harness {harness.__version__}"


@pytest.fixture
def captured_config(monkeypatch):
    """Replace harness.run.pipeline by a stub that records the RunConfig instead of running."""
    seen = []
    stub = types.SimpleNamespace(run_pipeline=seen.append)
    monkeypatch.setitem(sys.modules, "harness.run.pipeline", stub)
    return seen


@pytest.mark.parametrize("root_option", ["--root", "--fma-root"])
@pytest.mark.parametrize("command", [["run"], ["train", "mfcc-logreg"]])
def test_root_alias_and_shared_options_reach_the_run_config(
    captured_config, tmp_path, root_option, command
):
    args = [*command, root_option, str(tmp_path / "fma"), "--subset", "medium"]
    args += ["--cache-dir", str(tmp_path / "cache"), "--n-jobs", "2", "--seed", "3"]
    args += ["--device", "cpu", "--out", str(tmp_path / "runs"), "--official-split"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (config,) = captured_config
    assert config.root == tmp_path / "fma" and config.subset == "medium"
    assert config.cache_dir == tmp_path / "cache" and config.n_jobs == 2 and config.seed == 3
    assert config.device == "cpu" and config.out == tmp_path / "runs"
    assert config.resplit is False


def test_command_line_overrides_the_config_file(captured_config, tmp_path):
    config_file = tmp_path / "run.toml"
    config_file.write_text('subset = "medium"\nseed = 7\nn_jobs = 4\nroot = "/data/fma"\n')
    args = ["run", "--config", str(config_file), "--seed", "1", "--fma-root", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (config,) = captured_config
    assert (config.subset, config.seed, config.n_jobs) == ("medium", 1, 4)
    assert Path(config.root) == tmp_path


def test_help_of_every_command_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from harness.cli import app\n"
        "for args in ([], ['run'], ['train'], ['models'], ['check'], ['features'],\n"
        "             ['data', 'synth'], ['score']):\n"
        "    assert CliRunner().invoke(app, [*args, '--help']).exit_code == 0, args\n"
        "heavy = {'torch', 'sklearn', 'pandas', 'librosa'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("resplit", ["--no-resplit", "--official-split", "--resplit"])
def test_check_takes_the_root_alias_and_old_resplit_spelling(monkeypatch, tmp_path, resplit):
    seen = {}

    def check_dataset(**kwargs):
        seen.update(kwargs)
        return [], None

    stub = types.SimpleNamespace(check_dataset=check_dataset)
    monkeypatch.setitem(sys.modules, "harness.run.check", stub)
    args = ["check", "--fma-root", str(tmp_path), "--out", str(tmp_path / "out"), resplit]
    result = CliRunner().invoke(app, [*args, "--n-jobs", "1", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert seen["root"] == tmp_path and seen["out"] == tmp_path / "out"
    assert (seen["n_jobs"], seen["seed"]) == (1, 2)
    assert seen["resplit"] is (resplit == "--resplit")
