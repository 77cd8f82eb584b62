"""Loaders on the committed fixture tests/fixtures/fma_tiny, and every bad-input message."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from harness.data import fma
from harness.data.taxonomy import packaged_header
from harness.errors import DataError, ParameterError

ROOT = Path(__file__).parents[1] / "fixtures" / "fma_tiny"
META = ROOT / "fma_metadata"
TRACKS = META / "tracks.csv"
FEATURES = META / "features.csv"
GENRES = META / "genres.csv"


@pytest.fixture(scope="module")
def tracks() -> pd.DataFrame:
    return fma.load_tracks(TRACKS)


@pytest.fixture(scope="module")
def genres() -> pd.DataFrame:
    return fma.load_genres(GENRES)


# --- the fixture itself ---------------------------------------------------------------------


def test_fixture_layout_and_size():
    total = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    assert total < 1_000_000
    assert TRACKS.read_text("utf-8").startswith(packaged_header("tracks"))
    assert FEATURES.read_text("utf-8").startswith(packaged_header("features"))
    audio = ROOT / "fma_small"
    lines = (audio / "checksums").read_text("utf-8").splitlines()
    for line in lines:
        digest, rel = line.split("  ")
        assert hashlib.sha1((audio / rel).read_bytes()).hexdigest() == digest
    assert (audio / "000/000140.mp3").stat().st_size == 0
    assert not fma.audio_path(audio, 10).exists()


# --- load_tracks ----------------------------------------------------------------------------


def test_tracks_shape_index_columns(tracks):
    assert tracks.shape == (8, 52)
    assert tracks.index.name == "track_id"
    assert pd.api.types.is_integer_dtype(tracks.index.dtype)
    assert tracks.columns.nlevels == 2
    assert list(tracks.columns[:2]) == [("album", "comments"), ("album", "date_created")]
    assert tracks.columns[-1] == ("track", "title")


def test_tracks_list_columns(tracks):
    assert tracks.at[5, ("track", "genres_all")] == [25, 12]
    assert tracks.at[5, ("track", "tags")] == ["punk", "loud"]
    assert tracks.at[2, ("artist", "tags")] == ["awol"]
    assert tracks.at[10, ("album", "tags")] == []
    for name in fma.LIST_COLUMNS:
        assert all(isinstance(v, list) for v in tracks[name])
    # cells parsed from the same text are distinct objects
    tracks.at[10, ("album", "tags")].append("x")
    assert tracks.at[26, ("album", "tags")] == []


def test_tracks_dates_and_categories(tracks):
    for name in fma.DATE_COLUMNS:
        assert pd.api.types.is_datetime64_dtype(tracks[name].dtype), name
    assert tracks.at[2, ("track", "date_created")] == pd.Timestamp("2008-11-26 01:48:12")
    assert pd.isna(tracks.at[20, ("album", "date_released")])
    for name in fma.CATEGORY_COLUMNS:
        assert isinstance(tracks[name].dtype, pd.CategoricalDtype), name
    assert "Brooklyn,\nplaying" in tracks.at[5, ("artist", "bio")]
    subset = tracks["set", "subset"]
    assert subset.dtype.ordered
    assert list(subset.dtype.categories) == ["small", "medium", "large"]


def test_subset_comparison_and_select(tracks):
    medium = tracks["set", "subset"] <= "medium"
    assert sorted(tracks.index[medium]) == [2, 3, 5, 10, 20, 140]
    assert list(fma.select_subset(tracks, "small").index) == [2, 5, 10, 140]
    assert len(fma.select_subset(tracks, "large")) == 8
    assert len(fma.select_subset(tracks, "full")) == 8
    with pytest.raises(ParameterError, match="Unknown subset 'tiny'"):
        fma.select_subset(tracks, "tiny")


def test_genre_top_labels(tracks):
    labels = fma.genre_top_labels(tracks)
    assert 20 not in labels.index
    assert labels.attrs["n_dropped"] == 1
    assert labels[5] == "Rock"
    assert isinstance(labels[5], str)
    assert not isinstance(labels.dtype, pd.CategoricalDtype)


def test_genres_all_labels(tracks, genres):
    table = fma.genres_all_labels(tracks, genres)
    assert list(table.columns) == sorted(table.columns)
    assert table.dtypes.unique().tolist() == ["int8"]
    assert table.loc[5].to_dict() == {c: int(c in ("Punk", "Rock")) for c in table.columns}
    assert table["Rock"].sum() == 3
    rare = fma.genres_all_labels(tracks, genres, min_count=2)
    assert set(rare.columns) == {"Hip-Hop", "Pop", "Rock"}
    assert set(rare.attrs["dropped_genres"]) == {"Electronic", "Folk", "Punk", "Techno"}
    assert rare.attrs["n_dropped"] == 2  # tracks 46 (Electronic/Techno) and 140 (Folk)
    with pytest.raises(ParameterError):
        fma.genres_all_labels(tracks, genres, min_count=0)


def test_genres_all_unknown_id(tracks, genres):
    with pytest.raises(DataError, match=r"track_id=46.*genre id 181 is not in genres.csv"):
        fma.genres_all_labels(tracks, genres.drop(index=181))


def test_genres_and_features(genres):
    assert len(genres) == 163
    assert list(genres.columns) == ["#tracks", "parent", "title", "top_level"]
    assert (genres["parent"] == 0).sum() == 16
    feats = fma.load_features(FEATURES)
    assert feats.shape == (2, 518)
    assert feats.columns.nlevels == 3
    assert ("mfcc", "mean", "01") in feats.columns
    assert feats[("mfcc", "mean")].shape == (2, 20)
    assert (feats.dtypes == "float64").all()


def test_audio_path_and_dir(tmp_path):
    assert fma.audio_path(tmp_path, 2) == tmp_path / "000" / "000002.mp3"
    assert fma.audio_path("x", 123456) == Path("x/123/123456.mp3")
    assert fma.require_audio_dir(ROOT, "small") == ROOT / "fma_small"
    with pytest.raises(DataError, match=r"fma_medium: audio directory not found at .*fma_medium"):
        fma.require_audio_dir(ROOT, "medium")


# --- bad input: one message per path -------------------------------------------------------


def _rewrite(src: Path, dst: Path, n_header: int, edit: Callable[[list[list[str]]], None]) -> Path:
    """Rewrite a CSV after ``edit`` mutates its rows (header rows included) in place."""
    with open(src, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    edit(rows)
    with open(dst, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return dst


def _col(rows: list[list[str]], name: tuple[str, str]) -> int:
    return next(j for j in range(len(rows[0])) if (rows[0][j], rows[1][j]) == name)


def _set_cell(track_id: int, name: tuple[str, str], value: str):
    def edit(rows):
        row = next(r for r in rows[3:] if r[0] == str(track_id))
        row[_col(rows, name)] = value

    return edit


def _drop_column(name: tuple[str, str]):
    def edit(rows):
        j = _col(rows, name)
        for r in rows:
            del r[j]

    return edit


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (
            _drop_column(("set", "split")),
            r"^tracks\.csv: missing column \('set', 'split'\); is this the fma_metadata of the rc1",
        ),
        (
            _set_cell(5, ("track", "genres"), "21, 811"),
            r"track_id=5, column \('track', 'genres'\): expected a list of genre ids.*'21, 811'",
        ),
        (
            _set_cell(10, ("track", "genres_all"), "['Pop']"),
            r"row track_id=10, column \('track', 'genres_all'\): expected a list of genre ids",
        ),
        (
            _set_cell(26, ("track", "tags"), "[unclosed"),
            r"row track_id=26, column \('track', 'tags'\): expected a list literal",
        ),
        (
            _set_cell(46, ("album", "tags"), ""),
            r"row track_id=46, column \('album', 'tags'\).*found an empty cell",
        ),
        (
            _set_cell(3, ("track", "tags"), "__import__('os').system('echo pwned')"),
            r"row track_id=3, column \('track', 'tags'\): expected a list literal",
        ),
        (
            _set_cell(20, ("album", "date_released"), "someday"),
            r"row track_id=20, column \('album', 'date_released'\): expected a date.*'someday'",
        ),
        (
            _set_cell(140, ("set", "subset"), "tiny"),
            r"row track_id=140, column \('set', 'subset'\): expected one of small, medium, large",
        ),
        (
            lambda rows: rows[4].__setitem__(0, "2"),
            r"tracks\.csv: track_id 2 appears more than once",
        ),
        (
            lambda rows: rows[5].__setitem__(0, "abc"),
            r"tracks\.csv: track_id 'abc' is not an integer",
        ),
        (
            lambda rows: rows[5].append("extra"),
            r"tracks\.csv: could not be parsed as CSV .*line 6",
        ),
        (
            lambda rows: rows.pop(2),
            r"tracks\.csv: line 3 should be the index name line 'track_id,,,\.\.\.'",
        ),
        (
            lambda rows: rows[0].__setitem__(0, "track_id"),
            r"tracks\.csv: line 1 should start with ',', found 'track_id,album",
        ),
    ],
)
def test_bad_tracks(tmp_path, edit, pattern):
    path = _rewrite(TRACKS, tmp_path / "tracks.csv", 3, edit)
    with pytest.raises(DataError, match=pattern) as info:
        fma.load_tracks(path)
    assert "\n" not in str(info.value)


def test_full_subset_category(tmp_path):
    path = _rewrite(TRACKS, tmp_path / "tracks.csv", 3, _set_cell(46, ("set", "subset"), "full"))
    subset = fma.load_tracks(path)["set", "subset"]
    assert list(subset.dtype.categories) == ["small", "medium", "large", "full"]
    assert (subset > "large").sum() == 1


def test_missing_files(tmp_path):
    for loader, name in (
        (fma.load_tracks, "tracks.csv"),
        (fma.load_genres, "genres.csv"),
        (fma.load_features, "features.csv"),
    ):
        path = tmp_path / "fma_metadata" / name
        with pytest.raises(DataError, match=rf"^{name}: file not found at {path}"):
            loader(path)


def test_bad_genres(tmp_path):
    text = GENRES.read_text("utf-8")
    (tmp_path / "genres.csv").write_text(text.replace("top_level", "root", 1), "utf-8")
    with pytest.raises(DataError, match=r"genres\.csv: missing column 'top_level'"):
        fma.load_genres(tmp_path / "genres.csv")
    (tmp_path / "genres.csv").write_text(text.replace("genre_id", "id", 1), "utf-8")
    with pytest.raises(DataError, match=r"line 1 should start with 'genre_id'"):
        fma.load_genres(tmp_path / "genres.csv")
    (tmp_path / "genres.csv").write_text(text.replace(",0,Pop,", ",none,Pop,"), "utf-8")
    with pytest.raises(DataError, match=r"column 'parent' should hold integers"):
        fma.load_genres(tmp_path / "genres.csv")


def test_bad_features(tmp_path):
    def drop_mfcc(rows):
        j = next(j for j in range(len(rows[0])) if rows[0][j] == "mfcc")
        for r in rows:
            del r[j]

    path = _rewrite(FEATURES, tmp_path / "features.csv", 4, drop_mfcc)
    with pytest.raises(DataError, match=r"missing column \('mfcc', 'kurtosis', '01'\) \(517 col"):
        fma.load_features(path)

    def bad_value(rows):
        rows[4][3] = "n/a?"

    path = _rewrite(FEATURES, tmp_path / "features.csv", 4, bad_value)
    with pytest.raises(DataError, match=r"track_id=2, column \('chroma_cens', 'kurtosis', '03'"):
        fma.load_features(path)
    path = _rewrite(FEATURES, tmp_path / "features.csv", 4, lambda rows: rows.pop(3))
    with pytest.raises(DataError, match=r"line 4 should be the index name line"):
        fma.load_features(path)


def test_bom_and_crlf_are_accepted(tmp_path):
    text = TRACKS.read_text("utf-8")
    path = tmp_path / "tracks.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    tracks = fma.load_tracks(path)
    assert tracks.shape == (8, 52)
    assert tracks.columns[0] == ("album", "comments")
    assert tracks.at[5, ("track", "tags")] == ["punk", "loud"]
