"""Folder-per-label and CSV-manifest datasets: detection, loaders, bad input, splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from harness.data.folders import load_folders, load_gtzan_split
from harness.data.formats import detect_format, load_dataset
from harness.data.manifest import load_manifest
from harness.data.prepared import targets, training_prior
from harness.errors import DataError, ParameterError

SR = 8000


def tone_clip(path, *, seed: int, seconds: float = 3.0, fmt: str | None = None) -> np.ndarray:
    """A distinct clip (a few random tones with a random rhythm) written to ``path``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 2000, size=3))
    gate = np.repeat(rng.uniform(0.2, 1.0, size=int(seconds * 8) + 1), SR // 8)[: len(t)]
    y = (0.2 * y * gate).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, SR, format=fmt)
    return y


def label_folders(root, labels=("blues", "jazz", "rock"), per_label=10, seed=0):
    for i, label in enumerate(labels):
        for j in range(per_label):
            tone_clip(root / label / f"{label}.{j:05d}.wav", seed=seed + 100 * i + j)
    return root


def write_manifest(root, rows, name="manifest.csv"):
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / name, index=False)
    return root / name


def manifest_set(root, *, n=24, labels=("a", "b", "c"), artists=True, split=None):
    rows = []
    for k in range(n):
        path = f"audio/clip{k:03d}.flac"
        tone_clip(root / path, seed=1000 + k, fmt="FLAC")
        row = {"path": path, "label": labels[k % len(labels)]}
        if artists:
            row["artist"] = f"artist{k // 2}"
            row["album"] = f"album{k // 2}"
        if split is not None:
            row["split"] = split[k % len(split)]
        rows.append(row)
    return write_manifest(root, rows)


# --- detection ----------------------------------------------------------------------------


def test_detects_each_format(tmp_path):
    fma = tmp_path / "fma"
    (fma / "fma_metadata").mkdir(parents=True)
    (fma / "fma_metadata" / "tracks.csv").write_text("x\n")
    assert detect_format(fma) == "fma"
    assert detect_format(label_folders(tmp_path / "genres", per_label=1)) == "folders"
    csv = manifest_set(tmp_path / "listed", n=3)
    assert detect_format(csv.parent) == "manifest"  # its audio/ folder is listed, not a label
    assert detect_format(csv) == "manifest"
    assert detect_format(csv.parent, format="folders") == "folders"  # forced


def test_detection_refuses_ambiguous_empty_and_unknown(tmp_path):
    root = label_folders(tmp_path / "both", per_label=1)
    write_manifest(root, [{"path": "blues/blues.00000.wav", "label": "blues"}])
    with pytest.raises(
        DataError,
        match=r"both a manifest \(manifest.csv\) and label folders "
        r"it does not list \(jazz, rock\); pass --format",
    ):
        detect_format(root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no dataset found .*no fma_metadata/tracks.csv"):
        detect_format(tmp_path / "empty")
    with pytest.raises(DataError, match="no such file or folder"):
        detect_format(tmp_path / "nowhere")
    with pytest.raises(ParameterError, match="--format 'gtzan': expected one of fma, folders"):
        detect_format(root, format="gtzan")


# --- folders ------------------------------------------------------------------------------


def test_folders_load_as_prepared_data(tmp_path):
    root = label_folders(tmp_path / "genres")
    (root / "jazz" / "notes.txt").write_text("not audio")  # ignored
    data = load_dataset(root=root, seed=0)
    assert data.subset == "folders" and data.classes == ["blues", "jazz", "rock"]
    assert len(data.clips) == 30 and set(data.clips["group"]) == {"training", "validation", "test"}
    assert data.clips.index[0] == "blues/blues.00000.wav"
    assert list(targets(data, data.clips.index[:2])) == ["blues", "blues"]
    assert training_prior(data).sum() == pytest.approx(1.0)
    assert data.tracks[("artist", "id")].isna().all()  # no artist in this layout
    assert data.splits.attrs["source"] == "audio"
    # same seed, same split; the multi-label task reads the folder as one tag
    assert load_folders(root, seed=0).splits.equals(data.splits)
    tagged = load_folders(root, task="genres_all", min_genre_count=1)
    assert tagged.labels.shape == (30, 3) and (tagged.labels.sum(axis=1) == 1).all()


def test_folders_bad_input(tmp_path):
    root = label_folders(tmp_path / "genres", per_label=2)
    (root / "pop").mkdir()
    (root / "pop" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match=r"pop: label folder 'pop' holds no audio files \(1 other"):
        load_folders(root)
    (root / "pop" / "readme.txt").unlink()
    (root / "pop").rmdir()
    tone_clip(root / "loose.wav", seed=5)
    with pytest.raises(DataError, match="1 audio files sit at the top of the root .*loose.wav"):
        load_folders(root)
    single = label_folders(tmp_path / "outer" / "genres", labels=("blues",), per_label=2)
    with pytest.raises(DataError, match="is 'genres' a folder of label folders\\? then pass"):
        load_folders(single.parent)
    with pytest.raises(DataError, match=r"at least two labels$"):  # clips, not label folders
        load_folders(single)


def test_gtzan_layout_gets_the_built_in_fault_filtered_split(tmp_path):
    table = load_gtzan_split()
    assert len(table) == 930
    assert pd.Series(table).value_counts().to_dict() == {
        "training": 443,
        "test": 290,
        "validation": 197,
    }
    root = tmp_path / "genres"
    picked = {}
    for i, genre in enumerate(sorted({s.split("/")[0] for s in table})):
        for j, split in enumerate(("training", "validation", "test")):
            stem = next(s for s, v in table.items() if v == split and s.startswith(genre + "/"))
            tone_clip(root / f"{stem}.au", seed=10 * i + j, fmt="AU")
            picked[f"{stem}.au"] = split
    tone_clip(root / "pop" / "pop.00015.au", seed=99, fmt="AU")  # fault-filtered: not listed
    data = load_folders(root)
    assert data.splits.attrs["source"] == "built-in"
    assert data.splits.to_dict() == picked
    assert "pop/pop.00015.au" not in data.clips.index  # a filtered-out excerpt is left out
    assert any("not in the built-in split" in n for n in data.notes)
    assert load_folders(root, resplit=True).splits.attrs["source"] == "audio"


# --- manifest -----------------------------------------------------------------------------


def test_manifest_loads_with_given_split_and_multilabel(tmp_path):
    csv = manifest_set(tmp_path / "m", split=("training", "training", "validation", "test"))
    frame = pd.read_csv(csv)
    frame["labels"] = [f"{lab};extra" if k % 2 else "" for k, lab in enumerate(frame["label"])]
    frame.to_csv(csv, index=False)
    data = load_manifest(csv)
    assert data.splits.attrs["source"] == "given"
    assert data.splits.to_dict() == dict(zip(frame["path"], frame["split"], strict=True))
    assert data.index_file == csv and data.subset == "manifest"
    tagged = load_manifest(csv.parent, task="genres_all", min_genre_count=1)
    assert tagged.classes == ["a", "b", "c", "extra"]
    assert tagged.labels.loc["audio/clip001.flac"].to_dict() == {"a": 0, "b": 1, "c": 0, "extra": 1}
    assert tagged.labels.loc["audio/clip000.flac"].sum() == 1  # no labels: its label alone


def test_manifest_artist_split_never_straddles(tmp_path):
    csv = manifest_set(tmp_path / "m", n=40, labels=("a", "b"))
    for seed in (0, 1, 2):
        data = load_manifest(csv, seed=seed)
        assert data.splits.attrs["source"] == "artist"
        frame = pd.DataFrame({"artist": data.tracks[("artist", "id")], "split": data.splits})
        per_artist = frame.groupby("artist")["split"].nunique()
        assert (per_artist == 1).all()
        assert set(data.splits) == {"training", "validation", "test"}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [
                {"path": "audio/clip000.flac", "label": "a"},
                {"path": "audio/nope.wav", "label": "b"},
            ],
            r"manifest.csv line 3: file 'audio/nope.wav' not found .*fix the path or remove",
        ),
        (
            [
                {"path": "audio/clip000.flac", "label": "a"},
                {"path": "audio/clip000.flac", "label": "b"},
            ],
            r"manifest.csv lines 2 and 3: path 'audio/clip000.flac' is listed twice",
        ),
        (
            [{"path": "audio/clip000.flac", "label": "a", "split": "train"}],
            r"manifest.csv line 2: split 'train' is not one of training, validation, test; "
            r"fix the value \(e.g. train -> training",
        ),
        (
            [
                {"path": "audio/clip000.flac", "label": "a"},
                {"path": "audio/clip001.flac", "label": ""},
            ],
            r"manifest.csv line 3: empty label \(1 rows have none\); give every clip a label",
        ),
        (
            [
                {"path": "audio/clip000.flac", "label": "a", "split": "test"},
                {"path": "audio/clip001.flac", "label": "b", "split": ""},
            ],
            r"manifest.csv line 3: empty split \(1 of 2 rows have none\)",
        ),
        (
            [{"file": "audio/clip000.flac", "label": "a"}],
            r"not a manifest: its header lacks the column\(s\) path \(found: file,label\); "
            r"expected a CSV whose header has the columns path,label",
        ),
    ],
)
def test_manifest_bad_input(tmp_path, rows, message):
    root = tmp_path / "m"
    tone_clip(root / "audio" / "clip000.flac", seed=1, fmt="FLAC")
    tone_clip(root / "audio" / "clip001.flac", seed=2, fmt="FLAC")
    csv = write_manifest(root, rows)
    with pytest.raises(DataError, match=message):
        load_manifest(csv)


def test_manifest_with_one_label_is_refused(tmp_path):
    csv = manifest_set(tmp_path / "m", n=4, labels=("a",))
    with pytest.raises(DataError, match=r"only one label \('a'\) among the clips"):
        load_manifest(csv)


def test_an_empty_split_is_a_note_naming_it_and_what_to_do(tmp_path):
    given = manifest_set(tmp_path / "given", n=12, split=("training", "training", "test"))
    data = load_manifest(given)
    assert any(
        "no clip is in the validation split (training 8, validation 0, test 4; split source: given)"
        in note
        and "remove the column" in note
        for note in data.notes
    )
    tiny = manifest_set(tmp_path / "tiny", n=6)  # two clips of each of three labels
    notes = load_manifest(tiny).notes
    assert any("no clip is in the validation split" in n and "add clips" in n for n in notes)


def test_a_linked_folder_inside_a_label_folder_is_followed(tmp_path):
    label_folders(tmp_path / "store", labels=("blues", "jazz", "rock"), per_label=4)
    root = tmp_path / "root"
    for label in ("blues", "jazz"):
        (root / label).mkdir(parents=True)
        (root / label / "linked").symlink_to(tmp_path / "store" / label)
    (root / "rock").symlink_to(tmp_path / "store" / "rock")
    (root / "jazz" / "loop").symlink_to(root / "jazz")  # a cycle is walked once
    data = load_folders(root)
    assert data.labels.value_counts().to_dict() == {"blues": 4, "jazz": 4, "rock": 4}


def test_a_manifest_of_absolute_paths_is_found_in_its_folder(tmp_path):
    csv = manifest_set(tmp_path / "m", n=12)
    frame = pd.read_csv(csv)
    frame["path"] = [str((tmp_path / "m" / p).absolute()) for p in frame["path"]]
    frame.to_csv(csv, index=False)
    assert detect_format(tmp_path / "m") == "manifest"
    assert len(load_dataset(root=tmp_path / "m").labels) == 12


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"path,lable\n", "lacks the column(s) label (found: path,lable); is 'lable' meant to be"),
        (b"path;label\n", "its header is separated by semicolons; a manifest is comma-separated"),
        (b"path\tlabel\n", "its header is separated by tabs"),
        (b"pa\xe9th,label\n", "it is not UTF-8 text; save it as UTF-8"),
    ],
    ids=["misspelled", "semicolons", "tabs", "latin-1"],
)
def test_a_csv_that_is_not_a_manifest_says_why(tmp_path, header, expected):
    (tmp_path / "mine.csv").write_bytes(header + b"a.wav,x\n")
    for root in (tmp_path / "mine.csv", tmp_path):  # the file itself, or its folder
        with pytest.raises(DataError) as info:
            detect_format(root)
        assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_ragged_manifest_row_is_one_line(tmp_path):
    tone_clip(tmp_path / "a.wav", seed=1)
    (tmp_path / "manifest.csv").write_text("path,label\na.wav,x\na.wav,y,z,w\n")
    with pytest.raises(DataError, match=r"Expected 2 fields in line 3, saw 4\); expected") as info:
        load_manifest(tmp_path / "manifest.csv")
    assert "\n" not in str(info.value)


def test_a_part_of_gtzan_is_split_by_audio_when_its_split_would_leave_labels_untrained(tmp_path):
    from harness.data.folders import GTZAN_GENRES

    label_folders(tmp_path / "genres", labels=GTZAN_GENRES, per_label=6)  # 00000-00005
    data = load_folders(tmp_path / "genres")
    assert data.splits.attrs["source"] == "audio"
    assert any(
        "its built-in split gives blues" in note and "split by audio instead" in note
        for note in data.notes
    )
    trained = set(data.labels[data.splits.reindex(data.labels.index) == "training"])
    assert trained == set(GTZAN_GENRES)


def test_comma_separated_tags_are_named_when_no_tag_is_common_enough(tmp_path):
    csv = manifest_set(tmp_path / "m", n=12, labels=("a", "b"))
    frame = pd.read_csv(csv)
    frame["labels"] = [f"x{k},y{k}" for k in range(len(frame))]  # ',' instead of ';'
    frame.to_csv(csv, index=False)
    with pytest.raises(DataError, match=r"holds a comma: separate several labels with ';'"):
        load_manifest(csv, task="genres_all")


def test_two_artists_albums_of_one_title_are_two_albums(tmp_path):
    # keyed by title alone, every shared title was album leakage across splits
    rows = [
        {
            "path": f"audio/clip{k:03d}.flac",
            "label": "ab"[k % 2],
            "artist": f"artist{k}",
            "album": "Greatest Hits",
        }
        for k in range(20)
    ]
    for row in rows:
        tone_clip(tmp_path / "m" / row["path"], seed=int(row["path"][10:13]), fmt="FLAC")
    data = load_manifest(write_manifest(tmp_path / "m", rows))
    albums = data.tracks[("album", "id")]
    assert albums.nunique() == 20 and albums.iloc[0] == "artist0 / Greatest Hits"
