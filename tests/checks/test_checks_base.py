"""CheckResult round-trips through checks.json; helpers order and summarise verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.checks.base import (
    CheckResult,
    evidence_frame,
    figure_png,
    id_list,
    load_checks,
    new_figure,
    order_results,
    save_checks,
    to_jsonable,
    worst_verdict,
)
from harness.errors import DataError, ParameterError


def _png() -> bytes:
    fig, ax = new_figure(width=2, height=2)
    ax.plot([0, 1], [1, 0])
    return figure_png(fig)


def test_round_trip_with_table_dict_and_figure(tmp_path):
    table = pd.DataFrame(
        {"status": ["empty", "short"], "duration": [0.0, 12.5], "n": np.array([1, 2])},
        index=pd.Index([12, 40], name="key"),
    )
    results = [
        CheckResult("audio", "decode_status", "WARN", "2 bad", table, "fix", [_png()]),
        CheckResult("labels", "counts", "PASS", "ok", {"a": np.int64(3), "b": np.float32(0.5)}),
        CheckResult("features", "x", "SKIP", "no table", "a sentence"),
    ]
    path = save_checks(results, tmp_path / "checks.json")
    back = load_checks(path)
    assert [r.key for r in back] == [r.key for r in results]
    pd.testing.assert_frame_equal(back[0].evidence, table, check_dtype=False)
    assert back[0].figures[0] == results[0].figures[0]
    assert back[0].figures[0][:8] == b"\x89PNG\r\n\x1a\n"
    assert back[1].evidence == {"a": 3, "b": 0.5}
    assert back[2].evidence == "a sentence"


def test_range_index_table_round_trips_without_index_column():
    table = pd.DataFrame({"key_a": [1, 2], "key_b": [3, 4]})
    back = CheckResult.from_dict(CheckResult("d", "p", "FAIL", "f", table).to_dict())
    assert list(back.evidence.columns) == ["key_a", "key_b"]
    assert back.evidence["key_b"].tolist() == [3, 4]


def test_bad_verdict_and_bad_file(tmp_path):
    with pytest.raises(ParameterError, match="verdict 'OK'"):
        CheckResult("a", "b", "OK", "x")
    (tmp_path / "checks.json").write_text("{not json", "utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        load_checks(tmp_path / "checks.json")
    with pytest.raises(DataError, match="not found"):
        load_checks(tmp_path / "nope.json")


def test_helpers():
    assert worst_verdict(["PASS", "SKIP", "WARN"]) == "WARN"
    assert worst_verdict(["PASS", "FAIL", "WARN"]) == "FAIL"
    assert worst_verdict([]) == "SKIP"
    assert id_list(range(3)) == "3 (0, 1, 2)"
    assert id_list(range(20), limit=2) == "20 (0, 1, ... +18)"
    assert to_jsonable({"x": [np.nan, np.inf, np.int8(2)]}) == {"x": [None, None, 2]}
    mixed = [CheckResult("results", "r", "PASS", ""), CheckResult("audio", "a", "PASS", "")]
    assert [r.family for r in order_results(mixed)] == ["audio", "results"]
    frame, hidden = evidence_frame(pd.DataFrame({"v": range(30)}), max_rows=25)
    assert len(frame) == 25 and hidden == 5
