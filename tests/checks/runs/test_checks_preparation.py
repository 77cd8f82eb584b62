"""The data-preparation entry of the report: what loading the dataset left out."""

from __future__ import annotations

import json

from harness.checks.runs.preparation import from_run as preparation_notes


def write(run_dir, **facts):
    (run_dir / "preparation.json").write_text(json.dumps(facts))


def test_notes_and_unlabelled_tracks_are_listed(tmp_path):
    write(
        tmp_path,
        format="folders",
        split_source="audio",
        n_unlabelled=3,
        notes=["GTZAN recognised: the fault-filtered split is used"],
    )
    result = preparation_notes(tmp_path)
    assert result.verdict == "PASS" and "2 notes" in result.finding
    assert "split source: audio" in result.finding
    assert "GTZAN recognised" in result.evidence and "3 tracks" in result.evidence


def test_nothing_left_out(tmp_path):
    write(tmp_path, format="fma", split_source="official", n_unlabelled=0, notes=[])
    result = preparation_notes(tmp_path)
    assert result.verdict == "PASS" and "nothing left out" in result.finding


def test_an_older_run_is_skipped(tmp_path):
    assert preparation_notes(tmp_path).verdict == "SKIP"
