"""`fma-harness data splits | decode-check` on a folder per label and on a manifest."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from harness.cli import app

SYNTH = ["--n-tracks", "24", "--duration", "4", "--n-jobs", "1"]


@pytest.fixture(scope="module", params=["folders", "manifest"])
def own_root(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    args = ["data", "synth", "--root", str(root), "--format", request.param, *SYNTH]
    assert CliRunner().invoke(app, args).exit_code == 0
    return root


def test_splits_of_an_own_dataset(own_root):
    result = CliRunner().invoke(app, ["data", "splits", "--root", str(own_root)])
    assert result.exit_code == 0, result.output
    assert "split source" in result.output and "Rock" in result.output
    assert "validation" in result.output and "clips per split" in result.output
    if own_root.name.startswith("folders"):  # no artist known: split by audio, none to check
        assert "split source: audio" in result.output
        assert "no artist is known: clips of the same audio are kept in one split" in result.output
        assert "no artist or album appears" not in result.output


def test_decode_check_of_an_own_dataset(own_root):
    result = CliRunner().invoke(app, ["data", "decode-check", "--root", str(own_root)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    crossed = lines[next(i for i, line in enumerate(lines) if "vs planted fault" in line) :]
    short = next(line for line in crossed if line.startswith("short"))
    assert crossed[1].split()[0] == "planted" and "corrupt" in crossed[1]
    # the planted short clip is the only 'short' one (a whole 4 s clip is not)
    columns = crossed[1].split()[1:]
    assert int(short.split()[1 + columns.index("short")]) >= 1
    assert int(short.split()[1 + columns.index("(none)")]) == 0
