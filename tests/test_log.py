"""--quiet and --verbose on every command: what a run prints at each verbosity."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from harness import log
from harness.cli import app


@pytest.fixture
def restore_verbosity():
    yield
    log.set_verbosity(log.NORMAL)


@pytest.mark.slow
def test_quiet_and_verbose_change_what_a_run_prints(synth_root, tmp_path, restore_verbosity):
    args = [
        "train",
        "prior",
        "--root",
        str(synth_root),
        "--out",
        str(tmp_path / "runs"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--n-jobs",
        "1",
        "--quick",
    ]
    normal = CliRunner().invoke(app, [*args, "--run-id", "normal"], catch_exceptions=False)
    quiet = CliRunner().invoke(app, ["--quiet", *args, "--run-id", "q"], catch_exceptions=False)
    verbose = CliRunner().invoke(app, ["-v", *args, "--run-id", "v"], catch_exceptions=False)
    for result in (normal, quiet, verbose):
        assert result.exit_code == 0, result.output
        assert "Leaderboard" in result.output  # the result always shows
    assert "Training prior" in normal.output and "Configuration:" not in normal.output
    assert "Training prior" not in quiet.output and "Where the time went" not in quiet.output
    assert "Configuration:" in verbose.output and "Training prior" in verbose.output


def test_quiet_and_verbose_exclude_each_other(restore_verbosity):
    result = CliRunner().invoke(app, ["--quiet", "--verbose", "models"])
    assert result.exit_code == 2 and "exclude each other" in result.output


def test_quiet_switches_progress_off(capsys, restore_verbosity):
    from harness.features import parallel

    log.set_verbosity(log.QUIET)
    assert log.is_quiet()
    parallel.run_tasks(abs, [-1, -2], n_jobs=1, scheduler=None, progress=None)
    log.info("hidden")
    log.warning("shown")
    assert capsys.readouterr().out == "shown\n"


def test_verbosity_flags_after_the_command_are_the_apps():
    from harness.cli import hoist_verbosity

    assert hoist_verbosity(["run", "--quiet", "--seed", "1"]) == ["--quiet", "run", "--seed", "1"]
    assert hoist_verbosity(["check", "-v"]) == ["-v", "check"]
    assert hoist_verbosity(["run", "--", "--quiet"]) == ["run", "--", "--quiet"]


def test_quiet_after_the_command_reaches_the_app(tmp_path):
    """Through the console script's entry point: `fma-harness models --quiet --verbose` is
    refused by the app's own check, so both flags were read as the app's."""
    import subprocess
    import sys

    both = [sys.executable, "-m", "harness", "models", "--quiet", "--verbose"]
    result = subprocess.run(both, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "exclude each other" in result.stderr + result.stdout
    quiet = [sys.executable, "-m", "harness", "models", "--quiet"]
    assert subprocess.run(quiet, capture_output=True, text=True, cwd=tmp_path).returncode == 0
