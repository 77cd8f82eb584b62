"""label_fixes.csv: checked up front (one line naming the row), applied to exactly the decided
tracks, recorded; through `run` and `check` on the tiny synthetic set."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.data.formats import load_dataset
from harness.data.label_fixes import apply_label_fixes
from harness.errors import DataError

HEADER = "track_id,action,new_label,duplicate_of,check,note,time\n"


@pytest.fixture(scope="module")
def data(synth_root):
    return load_dataset(root=synth_root)


def _write(tmp_path, rows, header=HEADER):
    path = tmp_path / "label_fixes.csv"
    path.write_text(header + "".join(r + "\n" for r in rows))
    return path


def _other_genre(data, key):
    return next(g for g in data.classes if g != data.labels.loc[key])


def test_the_decided_tracks_change_and_no_other(data, tmp_path):
    a, b, c, d, e = list(data.labels.index[:5])
    new = _other_genre(data, a)
    path = _write(
        tmp_path,
        [
            f"{a},relabel,{new},,mislabels,sounds like it,2026-12-07T20:00:00Z",
            f"{b},drop,,,audio,,",
            f"{c},duplicate-of,,{d},duplicates,,",
            f"{e},keep,,,mislabels,,",
            f"{e},keep,,,mislabels,,",  # the same decision twice counts once
        ],
    )
    fixed = apply_label_fixes(data, path)
    assert fixed.labels.loc[a] == new
    assert fixed.tracks.loc[a, ("track", "genre_top")] == new  # what the data checks read
    assert b not in fixed.labels.index and c not in fixed.labels.index
    assert b not in fixed.clips.index and b not in fixed.splits.index
    assert d in fixed.labels.index and fixed.labels.loc[e] == data.labels.loc[e]
    rest = data.labels.drop([a, b, c])
    assert fixed.labels.drop(a).equals(rest)  # every other track as it was
    assert fixed.label_fixes["counts"] == {"keep": 1, "relabel": 1, "drop": 1, "duplicate-of": 1}
    assert len(fixed.label_fixes["sha256"]) == 64
    assert "Label fixes from label_fixes.csv" in fixed.notes[-1]
    assert data.labels.loc[a] != new  # the original tables are not touched


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["999999999,drop,,,,,"], "line 2: track '999999999' is not a labelled track"),
        (["{a},relabel,Polka,,,,"], "line 2: new_label 'Polka' is not a genre of the task"),
        (["{a},burn,,,,,"], "line 2: action 'burn'; expected one of keep, relabel, drop"),
        (["{a},drop,,,,,", "{a},keep,,,,,"], "lines 2 and 3: two different decisions for track"),
        (["{a},duplicate-of,,{a},,,"], "line 2: duplicate_of '{a}' is not another labelled"),
        (["{a},duplicate-of,,{b},,,", "{b},drop,,,,,"], "which is itself dropped"),
    ],
)
def test_a_bad_row_is_one_line_naming_it(data, tmp_path, rows, message):
    a, b = (str(k) for k in data.labels.index[:2])
    path = _write(tmp_path, [r.format(a=a, b=b) for r in rows])
    with pytest.raises(DataError) as caught:
        apply_label_fixes(data, path)
    assert message.format(a=a) in str(caught.value)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_file_without_the_required_columns_is_refused(data, tmp_path):
    path = _write(tmp_path, ["1,drop"], header="track,what\n")
    with pytest.raises(DataError, match="no track_id, action column"):
        apply_label_fixes(data, path)


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _run_prior(root, fixes, tmp_path, run_id, *more):
    """`fma-harness run` of the prior alone with ``fixes``, its folders under ``tmp_path``."""
    folders = ["--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache"]
    models = ["--models", "prior", "--label-fixes", fixes, "--run-id", run_id]
    return _cli("run", "--root", root, *models, *folders, *more)


def test_run_with_label_fixes_records_them(synth_root, data, tmp_path):
    key = data.labels.index[data.splits.reindex(data.labels.index).eq("training").to_numpy()][0]
    dropped = data.labels.index[1]
    path = _write(
        tmp_path, [f"{key},relabel,{_other_genre(data, key)},,,,", f"{dropped},drop,,,,,"]
    )
    (tmp_path / "run.toml").write_text(f'submissions_dir = "{tmp_path / "subs"}"\n')
    result = _run_prior(
        synth_root,
        path,
        tmp_path,
        "fixed",
        "--quick",
        "--config",
        tmp_path / "run.toml",
        "--n-jobs",
        "1",
        "--no-checks",
    )
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "fixed"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["label_fixes"]["counts"]["relabel"] == 1
    assert manifest["label_fixes"]["counts"]["drop"] == 1
    assert manifest["config"]["label_fixes"] == str(path)
    splits = pd.read_csv(run / "splits.csv")
    assert dropped not in set(splits["track_id"]) and key in set(splits["track_id"])
    assert "Label fixes from label_fixes.csv" in (run / "report.md").read_text("utf-8")


def test_a_bad_fix_file_stops_the_run_before_any_work(synth_root, tmp_path):
    path = _write(tmp_path, ["1,burn,,,,,"])
    result = _run_prior(synth_root, path, tmp_path, "bad")
    assert isinstance(result.exception, DataError)
    assert "action 'burn'" in str(result.exception)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()


def test_check_applies_label_fixes(synth_root, data, tmp_path):
    dropped = data.labels.index[0]
    path = _write(tmp_path, [f"{dropped},drop,,,,,"])
    result = _cli(
        "check",
        "--root",
        synth_root,
        "--out",
        tmp_path / "checks",
        "--cache-dir",
        tmp_path / "cache",
        "--n-jobs",
        "1",
        "--label-fixes",
        path,
    )
    assert result.exit_code == 0, result.output
    assert "label_fixes" in (tmp_path / "checks" / "report.md").read_text("utf-8")
