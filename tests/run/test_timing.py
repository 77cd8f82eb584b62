"""The stage timing table: sums, shares, and its report entry."""

import json

import pytest

from harness.checks.runs.timing import from_run as stage_times
from harness.run.timing import StageTimes, format_table


def test_stage_table_sums_and_shares_and_records_a_failing_stage():
    times = StageTimes()
    times.add("data", 1.0)
    with pytest.raises(RuntimeError), times.stage("features"):
        raise RuntimeError("boom")
    times.add("cnn: train", 3.0)
    table = times.table()
    assert [r["stage"] for r in table] == ["data", "features", "cnn: train", "total"]
    assert table[-1]["seconds"] == pytest.approx(4.0, abs=0.05)
    assert table[2]["share"] == pytest.approx(75.0, abs=1.0)
    lines = format_table(table).splitlines()
    assert len(lines) == 4 and lines[-1].split()[:2] == ["total", "4.0"]


def test_report_entry_names_the_largest_stage(tmp_path):
    times = StageTimes()
    for name, seconds in (("data", 2.0), ("crnn: train", 30.0), ("report", 1.0)):
        times.add(name, seconds)
    (tmp_path / "manifest.json").write_text(json.dumps({"stage_seconds": times.table()}))
    result = stage_times(tmp_path)
    assert result.verdict == "PASS" and "crnn: train (30 s, 91 %)" in result.finding
    assert "--quick" in result.action
    (tmp_path / "manifest.json").write_text(json.dumps({}))
    assert stage_times(tmp_path).verdict == "SKIP"


def test_stages_within_another_are_shown_under_it_and_not_counted_twice():
    times = StageTimes()
    times.add("features", 10.0)
    times.add("neural models", 30.0)
    times.add("cnn: train", 20.0, within="neural models")
    times.add("crnn: train", 25.0, within="neural models")
    assert times.total == 40.0
    lines = format_table(times.table()).splitlines()
    assert lines[2].startswith("    cnn: train") and lines[1].startswith("  neural models")
    assert lines[-1].split()[:2] == ["total", "40.0"]


def test_report_entry_names_the_side_by_side_block_not_a_model_inside_it(tmp_path):
    times = StageTimes()
    times.add("data", 2.0)
    times.add("neural models (2 side by side, 1 thread(s) each)", 50.0)
    times.add("crnn: train", 45.0, within="neural models (2 side by side, 1 thread(s) each)")
    (tmp_path / "manifest.json").write_text(json.dumps({"stage_seconds": times.table()}))
    result = stage_times(tmp_path)
    assert "largest stage: neural models (2 side by side" in result.finding
    assert "--quick" in result.action


def test_a_block_holds_the_stages_recorded_while_it_is_open():
    times = StageTimes()
    times.add("features", 1.0)
    with times.block("neural models"):
        with times.stage("data checks"):
            pass
        times.add("cnn: train", 5.0)
    times.add("report", 1.0)
    rows = times.rows
    assert [r["stage"] for r in rows] == [
        "features",
        "neural models",
        "data checks",
        "cnn: train",
        "report",
    ]
    assert [r.get("within") for r in rows] == [None, None, "neural models", "neural models", None]
    assert rows[1]["seconds"] < 1.0  # the block's own wall time, not the sum of its stages
    assert times.total == pytest.approx(2.0 + rows[1]["seconds"])
    with pytest.raises(RuntimeError, match="inside block"), times.block("a"), times.block("b"):
        pass
    with pytest.raises(ValueError), times.block("failing"):
        raise ValueError("boom")
    assert times.rows[-1]["stage"] == "failing"
    times.add("after", 1.0)
    assert "within" not in times.rows[-1]
