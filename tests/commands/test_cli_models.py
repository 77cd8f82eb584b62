"""`fma-harness models`: every model the registry knows, built-in or from an entry point."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from harness import registry
from harness.cli import app, main

USER_MODULE = '''
def build_tagger(*, n_classes, n_mels, preset, **params):
    """A user's log-mel tagger."""
    raise NotImplementedError


build_tagger.consumes = "logmel"
'''


@pytest.fixture
def user_entry_point(monkeypatch, tmp_path):
    """An installed package registering ``my-tagger`` in the fma_harness.models group."""
    (tmp_path / "cli_user_models.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    points = {"my-tagger": "cli_user_models:build_tagger"}
    monkeypatch.setattr(registry, "entry_point_targets", lambda group: points)
    return points


def _rows(output: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in output.splitlines()[1:]}


def test_models_lists_every_builtin_with_what_it_consumes():
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["model", "consumes", "target", "summary"]
    rows = _rows(result.output)
    for name, entry in registry.model_entries().items():
        assert rows[name][1:3] == [entry.consumes, entry.target]
        assert entry.summary in result.output
    assert rows["crnn"][1] == "logmel" and rows["mfcc-logreg"][1] == "features"


def test_models_lists_entry_point_models(user_entry_point):
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    row = _rows(result.output)["my-tagger"]
    assert row[1:3] == ["logmel", "cli_user_models:build_tagger"]
    assert "A user's log-mel tagger." in result.output


def test_models_help_says_how_to_register_a_model():
    result = CliRunner().invoke(app, ["models", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "fma_harness.models" in result.output
    assert "package.module:factory" in result.output


def test_entry_point_clash_is_listed_as_broken_and_the_built_in_stays(monkeypatch, capsys):
    monkeypatch.setattr(registry, "entry_point_targets", lambda group: {"crnn": "x.y:z"})
    monkeypatch.setattr(sys, "argv", ["fma-harness", "models"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code in (0, None)
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [
        "broken: entry point fma_harness.models:crnn (x.y:z) reuses the name of a built-in "
        "model; rename it in its package's entry points"
    ]
    assert "models.crnn:build_crnn" in out  # the built-in crnn
    assert registry.get_entry("crnn").target == "models.crnn:build_crnn"
