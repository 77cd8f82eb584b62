"""`fma-harness report RUN_DIR` re-renders a finished run's report through the CLI, its built-in
checks side by side or one at a time, with the same page either way."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from harness.cli import app


def _copy_without_report(run_dir, to):
    shutil.copytree(run_dir, to)
    for name in ("report.md", "report.html"):
        (to / name).unlink()
    shutil.rmtree(to / "figures", ignore_errors=True)
    return to


def test_report_rerenders_a_run_the_same_side_by_side_and_one_at_a_time(bundle_run, tmp_path):
    run_dir, _ = bundle_run
    pages = []
    for n_jobs in ("2", "1"):
        copy = _copy_without_report(run_dir, tmp_path / f"jobs-{n_jobs}" / run_dir.name)
        result = CliRunner().invoke(app, ["report", str(copy), "--n-jobs", n_jobs])
        assert result.exit_code == 0, result.output
        pages.append((copy / "report.md").read_text("utf-8").replace(str(copy), "RUN"))
        assert (copy / "report.html").is_file() and (copy / "figures").is_dir()
    assert pages[0] == pages[1]
    for section in ("## Results", "comparison", "confusion_matrices", "learning_curves"):
        assert section in pages[0], section
    assert "cnn" in pages[0] and "mfcc-logreg" in pages[0]


def test_report_of_a_missing_run_directory_says_so_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path / "no-such-run")])
    assert result.exit_code != 0
    assert "no-such-run: run directory not found" in str(result.exception)


def test_report_of_a_damaged_run_names_the_damaged_file(bundle_run, tmp_path):
    # a truncated manifest or predictions file was a JSONDecodeError / BadZipFile traceback
    run_dir, _ = bundle_run
    copy = _copy_without_report(run_dir, tmp_path / "manifest" / run_dir.name)
    (copy / "manifest.json").write_text((run_dir / "manifest.json").read_text()[:200])
    result = CliRunner().invoke(app, ["report", str(copy), "--n-jobs", "1"])
    assert result.exit_code == 1
    assert f"{copy / 'manifest.json'}: not a run manifest" in str(result.exception)
    copy = _copy_without_report(run_dir, tmp_path / "predictions" / run_dir.name)
    damaged = copy / "models" / "mfcc-logreg" / "predictions_test.npz"
    damaged.write_bytes(damaged.read_bytes()[:100])
    result = CliRunner().invoke(app, ["report", str(copy), "--n-jobs", "1"])
    assert result.exit_code == 1
    assert str(result.exception).startswith(f"{damaged}: cannot be read")


def test_report_of_a_folder_that_is_no_run_writes_nothing(tmp_path):
    # it wrote an all-SKIP report into any folder and exited 0
    (tmp_path / "notes.txt").write_text("x")
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert "not a run directory (no manifest.json, leaderboard.csv, checks.json)" in str(
        result.exception
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
