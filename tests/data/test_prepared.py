"""prepare(): metadata, subset, splits, labels and clip table, on the tiny fixture."""

from pathlib import Path

import pytest

from harness.data.prepared import challenge_clips, prepare
from harness.errors import DataError, ParameterError

TINY = Path(__file__).parents[1] / "fixtures" / "fma_tiny"


def test_prepare_small_genre_top():
    data = prepare(root=TINY, subset="small", task="genre_top")
    assert sorted(data.clips.index) == [2, 5, 10, 140]
    assert data.classes == ["Folk", "Hip-Hop", "Pop", "Rock"]
    assert data.clips.loc[5, "group"] == "validation"
    assert data.clips.loc[2, "path"].endswith("fma_small/000/000002.mp3")
    assert list(data.keys("test")) == [10]
    assert data.n_unlabelled == 0


def test_prepare_genres_all_is_multi_hot():
    data = prepare(root=TINY, subset="small", task="genres_all", min_genre_count=1)
    assert data.labels.shape[0] == len(data.clips)
    assert set(data.labels.to_numpy().ravel()) <= {0, 1}
    assert (data.labels.sum(axis=1) >= 1).all()


def test_prepare_genres_all_drops_genres_rare_in_training():
    # training: track 2 (Hip-Hop), track 140 (Folk); Pop, Rock and Punk are on the other splits
    data = prepare(root=TINY, subset="small", task="genres_all", min_genre_count=1)
    assert data.classes == ["Folk", "Hip-Hop"]
    assert data.dropped_genres == {"Pop": 0, "Punk": 0, "Rock": 0}
    assert data.min_genre_count == 1 and "3 of 5 genres dropped" in data.notes[0]
    assert data.genre_parents["Punk"] == "Rock" and data.genre_parents["Rock"] is None
    assert sorted(data.clips.index) == [2, 140]  # tracks left without a genre are left out
    with pytest.raises(DataError, match="no genre has 2 or more training tracks"):
        prepare(root=TINY, subset="small", task="genres_all", min_genre_count=2)
    with pytest.raises(DataError, match="no genre has 5 or more"):  # the default: 5
        prepare(root=TINY, subset="small", task="genres_all")
    with pytest.raises(ParameterError, match="min_genre_count must be >= 1"):
        prepare(root=TINY, subset="small", task="genres_all", min_genre_count=0)


def test_prepare_errors_name_what_is_missing(tmp_path):
    with pytest.raises(DataError, match=r"tracks\.csv: not found.*data synth"):
        prepare(root=tmp_path)
    with pytest.raises(ParameterError, match="subset 'tiny'"):
        prepare(root=TINY, subset="tiny")
    with pytest.raises(DataError, match="fma_medium: audio directory not found"):
        prepare(root=TINY, subset="medium")


def test_challenge_clips_keyed_by_file_id(tmp_path):
    (tmp_path / "b2.mp3").write_bytes(b"")
    (tmp_path / "a1.mp3").write_bytes(b"")
    clips = challenge_clips(tmp_path)
    assert list(clips.index) == ["a1", "b2"]
    assert set(clips["group"]) == {"challenge"}
    with pytest.raises(DataError, match="challenge test folder not found"):
        challenge_clips(tmp_path / "nowhere")


def test_challenge_clips_and_expected_ids_agree_on_upper_case_names(tmp_path):
    from harness.data.challenge import ids_from_test_dir

    (tmp_path / "b2.MP3").write_bytes(b"")
    (tmp_path / "a1.mp3").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")
    assert list(challenge_clips(tmp_path).index) == ids_from_test_dir(tmp_path) == ["a1", "b2"]
