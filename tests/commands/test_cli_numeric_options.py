"""Every numeric option of every command has bounds, and a value outside them is one line and
exit 1 before any work, as ``run --seed -1`` is. The commands are found by walking the CLI's
command tree, so an option added later is covered (and fails here without bounds)."""

from __future__ import annotations

import sys

import pytest
import typer

from harness.cli import app, main
from harness.commands import options


def _numeric_options() -> list[tuple[tuple[str, ...], str]]:
    """(command path, option name) of every int or float option of every command."""
    found = []

    def walk(command, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
            return
        for param in command.params:
            if param.param_type_name == "option" and str(param.bare_type()) in ("int", "float"):
                found.append((path, param.opts[0]))

    walk(typer.main.get_command(app), ())
    return found


NUMERIC = _numeric_options()


def test_the_walk_finds_the_options_of_every_family():
    names = {(" ".join(path), option) for path, option in NUMERIC}
    assert {("check", "--seed"), ("predict", "--top-k"), ("data synth", "--sr")} <= names
    assert ("run", "--min-genre-count") in names and ("tag", "--top-k") in names


@pytest.mark.parametrize(
    ("path", "option"), NUMERIC, ids=[f"{' '.join(p)} {o}" for p, o in NUMERIC]
)
def test_an_out_of_range_value_is_one_line_and_exit_1(path, option, tmp_path, monkeypatch, capsys):
    assert option in options.BOUNDS, f"{option} has no bounds: make it with options.number"
    monkeypatch.chdir(tmp_path)  # a command that started work would write here
    outside = options.BOUNDS[option].outside()
    assert outside
    for value in outside:
        shown = str(int(value)) if float(value).is_integer() else str(value)
        monkeypatch.setattr(sys, "argv", ["fma-harness", *path, option, shown])
        with pytest.raises(SystemExit) as exited:
            main()
        captured = capsys.readouterr()
        assert exited.value.code == 1, captured.err
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and option in lines[0] and "expected" in lines[0], captured.err
        assert "Traceback" not in captured.err + captured.out
    assert not any(tmp_path.iterdir())  # nothing was written


@pytest.mark.parametrize(
    ("bounds", "inside", "outside"),
    [
        (options.Bounds("--k", whole=True, ge=1), [1, 7], [0]),
        (options.Bounds("--r", whole=False, ge=0, le=0.5), [0.0, 0.5], [-0.001, 0.501]),
        (options.Bounds("--c", whole=False, ge=0, lt=1), [0.0, 0.999], [-0.001, 1]),
        (options.Bounds("--d", whole=False, gt=0), [0.001], [0]),
    ],
)
def test_bounds_accept_their_range_and_name_it(bounds, inside, outside):
    from harness.errors import ParameterError

    for value in inside:
        assert bounds(value) == value
    assert bounds(None) is None
    assert bounds.outside() == outside
    for value in outside:
        with pytest.raises(ParameterError, match=f"^{bounds.name} .*: expected a"):
            bounds(value)
