"""`fma-harness predict` and `export`: the run's numbers, any audio, bad files, resume, budget."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from harness.bundles.predict import EXIT_BUDGET, EXIT_FILES_FAILED, output_format
from harness.cli import app
from harness.commands.options import parse_duration
from harness.errors import DataError, ParameterError

pytestmark = pytest.mark.slow


def _predict(*args) -> object:
    return CliRunner().invoke(app, ["predict", *map(str, args)])


def _lines(path) -> dict[str, str]:
    """Data lines of a challenge CSV keyed by file id (rows may come in any order)."""
    lines = path.read_text("utf-8").splitlines()
    return {line.split(",", 1)[0]: line for line in lines[1:]}


@pytest.mark.parametrize("model", ["mfcc-logreg", "cnn"])
def test_predict_on_the_challenge_folder_equals_the_runs_submission(
    bundle_run, synth_root, tmp_path, model
):
    run_dir, submissions = bundle_run
    out = tmp_path / f"{model}.csv"
    result = _predict(
        run_dir / "models" / model / "bundle",
        synth_root / "crowdai_fma_test",
        "--out",
        out,
        "--n-jobs",
        "1",
    )
    assert result.exit_code == 0, result.output
    expected = _lines(submissions / f"{model}.csv")
    got = _lines(out)
    assert (
        out.read_text().splitlines()[0]
        == (submissions / f"{model}.csv").read_text().splitlines()[0]
    )
    assert got.keys() == expected.keys() and len(got) == 6
    assert got == expected  # value for value: same text, the shortest round-trip repr


@pytest.fixture
def music(tmp_path):
    """A folder of clips in several formats, rates, channel counts and lengths, one silent,
    one broken, one not audio at all."""
    rng = np.random.default_rng(0)

    def tone(seconds, sr, channels, freq):
        t = np.arange(int(seconds * sr)) / sr
        y = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
        return np.repeat(y[:, None], channels, axis=1).astype(np.float32)

    root = tmp_path / "music"
    (root / "nested").mkdir(parents=True)
    sf.write(root / "stereo.wav", tone(2.0, 44100, 2, 440), 44100)
    sf.write(root / "nested" / "mono.flac", tone(6.0, 16000, 1, 220), 16000)
    sf.write(root / "long.ogg", tone(40.0, 48000, 2, 330), 48000, format="OGG")
    sf.write(root / "quiet.wav", np.zeros((3 * 22050, 1), np.float32), 22050)
    (root / "broken.mp3").write_bytes(rng.bytes(4000))
    (root / "notes.md").write_text("not audio")
    return root


def test_any_audio_one_row_each_broken_gets_the_prior(bundle_run, music, tmp_path):
    run_dir, _ = bundle_run
    bundle = run_dir / "models" / "cnn" / "bundle"
    out = tmp_path / "genres.csv"
    result = _predict(bundle, music, "--out", out, "--format", "csv", "--top-k", "2")
    assert result.exit_code == EXIT_FILES_FAILED, result.output
    rows = pd.read_csv(out, keep_default_na=False).set_index("file_id")
    assert sorted(rows.index) == ["broken", "long", "mono", "quiet", "stereo"]
    status = rows["status"].to_dict()
    assert status == {
        "broken": "failed",
        "long": "ok",
        "mono": "ok",
        "quiet": "silent",
        "stereo": "ok",
    }
    assert rows.loc["broken", "reason"].startswith("corrupt")
    assert rows.loc["quiet", "reason"].startswith("silent")
    assert (rows.loc[["mono", "stereo", "long"], "reason"] == "").all()
    spec = json.loads((bundle / "bundle.json").read_text())
    proba = rows[spec["classes"]].to_numpy(dtype=float)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    prior = np.asarray(spec["prior"])
    for name in ("broken", "quiet"):  # read back from CSV text: equal to the last digit or so
        np.testing.assert_allclose(
            rows.loc[name, spec["classes"]].to_numpy(float), prior, rtol=1e-12, atol=0
        )
    assert (rows["top1_proba"] >= rows["top2_proba"]).all() and "top3" not in rows.columns
    assert "broken.mp3: corrupt" in result.output  # named on stderr too


def test_resume_skips_written_rows_and_finishes_a_cut_file(bundle_run, music, tmp_path):
    run_dir, _ = bundle_run
    bundle = run_dir / "models" / "mfcc-logreg" / "bundle"
    out = tmp_path / "genres.jsonl"
    first = _predict(bundle, music, "--out", out)
    assert first.exit_code == EXIT_FILES_FAILED, first.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 5 and all(len(r["top"]) == 3 for r in records)
    again = _predict(bundle, music, "--out", out)  # the broken file is tried again, in vain
    assert again.exit_code == EXIT_FILES_FAILED, again.output
    assert "4 already there" in again.output and "1 failed" in again.output
    text = out.read_text()
    lines = text.splitlines(keepends=True)
    assert json.loads(lines[-1])["status"] == "failed"  # its row now comes last
    out.write_text("".join(lines[:3]) + lines[3][:10])  # a crash mid-line
    resumed = _predict(bundle, music, "--out", out)
    assert resumed.exit_code in (0, EXIT_FILES_FAILED), resumed.output
    assert "3 already there" in resumed.output
    after = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["path"] for r in after) == sorted(r["path"] for r in records)
    by_path = {r["path"]: r for r in records}
    for record in after:  # another batch: BLAS may round the last bit differently
        before = by_path[record["path"]]["probabilities"]
        assert record["probabilities"].keys() == before.keys()
        np.testing.assert_allclose(
            list(record["probabilities"].values()), list(before.values()), rtol=0, atol=1e-12
        )


def test_budget_writes_the_prior_for_the_rest_and_a_rerun_finishes(
    bundle_run, synth_root, tmp_path
):
    run_dir, submissions = bundle_run
    bundle = run_dir / "models" / "mfcc-logreg" / "bundle"
    out = tmp_path / "sub.csv"
    folder = synth_root / "crowdai_fma_test"
    result = _predict(bundle, folder, "--out", out, "--budget", "0.01s", "--batch-size", "2")
    assert result.exit_code == EXIT_BUDGET, result.output
    assert "projected time" in result.output and "time budget reached: 4 files" in result.output
    assert len(_lines(out)) == 6  # complete and valid (validated before the command ended)
    reasons = pd.read_csv(str(out) + ".reasons.csv")
    assert (reasons["status"] == "budget").sum() == 4
    rerun = _predict(bundle, folder, "--out", out)
    assert rerun.exit_code == 0, rerun.output
    assert "2 already there" in rerun.output
    assert _lines(out) == _lines(submissions / "mfcc-logreg.csv")
    assert not (pd.read_csv(str(out) + ".reasons.csv")["status"] == "budget").any()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp, music: [tmp / "empty", "--out", tmp / "o.csv"], "no audio files"),
        (lambda tmp, music: [music, "--out", tmp / "missing" / "o.csv"], "does not exist"),
        (lambda tmp, music: [tmp / "nowhere.wav", "--out", tmp / "o.csv"], "no such file"),
        (lambda tmp, music: [music, "--out", tmp / "o.csv", "--budget", "soon"], "--budget"),
    ],
    ids=["folder-without-audio", "out-in-missing-folder", "missing-input", "bad-budget"],
)
def test_bad_input_is_one_line_and_exit_1(bundle_run, music, tmp_path, make, expected):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt.bak").write_text("x")
    run_dir, _ = bundle_run
    result = _predict(run_dir / "models" / "mfcc-logreg" / "bundle", *make(tmp_path, music))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, DataError | ParameterError)
    assert expected in str(result.exception) and "\n" not in str(result.exception)


def test_existing_output_of_another_format_is_kept(bundle_run, music, tmp_path):
    run_dir, _ = bundle_run
    out = tmp_path / "mine.csv"
    out.write_text("my,own,file\n")
    result = _predict(run_dir / "models" / "mfcc-logreg", music, "--out", out, "--format", "csv")
    assert result.exit_code == 1 and "first line differs" in str(result.exception)
    assert out.read_text() == "my,own,file\n"  # nothing already written is lost


def test_challenge_format_needs_challenge_genres():
    spec = {"task": "genre_top", "classes": ["Rock", "metal"]}
    with pytest.raises(DataError, match=r"classes \['metal'\] that are not challenge genres"):
        output_format("challenge", pd.io.common.Path("o.csv"), spec)
    assert output_format("auto", pd.io.common.Path("o.csv"), spec) == "csv"
    tags = {"task": "genres_all", "classes": ["Rock"]}
    with pytest.raises(DataError, match="task 'genres_all'"):
        output_format("challenge", pd.io.common.Path("o.csv"), tags)
    assert output_format("auto", pd.io.common.Path("o.jsonl"), tags) == "jsonl"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("10h", 36000), ("1h30m", 5400), ("45", 45)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_export_writes_a_round_two_entry_point(bundle_run, synth_root, tmp_path):
    run_dir, submissions = bundle_run
    dest = tmp_path / "submission"
    result = CliRunner().invoke(app, ["export", str(run_dir), str(dest), "--model", "cnn"])
    assert result.exit_code == 0, result.output
    script = dest / "run.sh"
    assert os.access(script, os.X_OK) and (dest / "bundle" / "manifest.json").is_file()
    output = tmp_path / "round2.csv"
    env = {
        **os.environ,
        "TEST_DIRECTORY": str(synth_root / "crowdai_fma_test"),
        "OUTPUT_PATH": str(output),
        "FMA_HARNESS": f"{sys.executable} -m harness",
        "PREDICT_JOBS": "1",
    }
    done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _lines(output) == _lines(submissions / "cnn.csv")
    again = CliRunner().invoke(app, ["export", str(run_dir), str(dest), "--model", "cnn"])
    assert again.exit_code == 1 and "not empty" in str(again.exception)


def test_a_rerun_predicts_a_file_that_failed_again_once_it_is_fixed(bundle_run, music, tmp_path):
    run_dir, _ = bundle_run
    bundle = run_dir / "models" / "mfcc-logreg" / "bundle"
    out = tmp_path / "genres.csv"
    first = _predict(bundle, music, "--out", out, "--format", "csv")
    assert first.exit_code == EXIT_FILES_FAILED, first.output
    (music / "broken.mp3").unlink()
    sf.write(music / "broken.wav", np.zeros((22050, 1), np.float32) + 0.1, 22050)
    (music / "broken.wav").rename(music / "broken.mp3")  # libsndfile reads it whatever its name
    fixed = _predict(bundle, music, "--out", out, "--format", "csv")
    assert fixed.exit_code == 0, fixed.output  # no failed row left in the file
    assert "1 predicted, 4 already there" in fixed.output
    rows = pd.read_csv(out, keep_default_na=False).set_index("file_id")
    assert len(rows) == 5 and rows.loc["broken", "status"] == "ok"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (["--middle"], "written with another --middle (middle False, now True)"),
        (["--top-k", "2"], "written with another --top-k"),
        (["--bundle", "cnn"], "written with another model bundle (bundle '"),
    ],
    ids=["middle", "top-k", "bundle"],
)
def test_a_rerun_with_another_bundle_or_settings_is_refused(
    bundle_run, music, tmp_path, change, expected
):
    # its rows would have been kept for the files already there: another model's predictions
    run_dir, _ = bundle_run
    out = tmp_path / "genres.jsonl"
    _predict(run_dir / "models" / "mfcc-logreg", music, "--out", out)
    before = out.read_text()
    model = change[1] if change[0] == "--bundle" else "mfcc-logreg"
    options = [] if change[0] == "--bundle" else change
    result = _predict(run_dir / "models" / model, music, "--out", out, *options)
    assert result.exit_code == 1, result.output
    message = str(result.exception)
    assert message.startswith(f"{out}: ") and "\n" not in message
    assert expected in message
    assert "delete the file to start over" in message
    assert out.read_text() == before  # nothing written


def test_an_exported_copy_of_the_bundle_resumes_the_same_file(bundle_run, music, tmp_path):
    run_dir, _ = bundle_run
    out = tmp_path / "genres.csv"
    _predict(run_dir / "models" / "mfcc-logreg", music, "--out", out, "--format", "csv")
    dest = tmp_path / "exported"
    shutil.copytree(run_dir / "models" / "mfcc-logreg" / "bundle", dest)
    again = _predict(dest, music, "--out", out, "--format", "csv")
    assert again.exit_code == EXIT_FILES_FAILED and "4 already there" in again.output


def test_a_reference_bundle_predicts_a_silent_file_as_the_run_does(bundle_run, music, tmp_path):
    # the run gives uniform and prior every clip, silent ones too (they ignore their input);
    # predict marked a silent clip failed because its MFCC statistics hold NaN
    run_dir, _ = bundle_run
    cache = run_dir.parent.parent / "cache"
    root = json.loads((run_dir / "manifest.json").read_text())["config"]["resolved_root"]
    trained = CliRunner().invoke(
        app,
        [
            "train",
            "uniform",
            "--root",
            root,
            "--cache-dir",
            str(cache),
            "--out",
            str(tmp_path / "runs"),
            "--quick",
            "--n-jobs",
            "1",
            "--run-id",
            "ref",
        ],
    )
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "uniform.csv"
    result = _predict(
        tmp_path / "runs" / "ref" / "models" / "uniform", music, "--out", out, "--format", "csv"
    )
    assert result.exit_code == EXIT_FILES_FAILED, result.output  # broken.mp3 still fails
    rows = pd.read_csv(out, keep_default_na=False).set_index("file_id")
    assert rows.loc["quiet", "status"] == "ok" and rows.loc["quiet", "reason"] == ""
    classes = [
        c for c in rows.columns if c not in ("path", "status", "reason") and not c.startswith("top")
    ]
    np.testing.assert_allclose(rows.loc["quiet", classes].to_numpy(float), 1 / len(classes))


def test_more_bad_options_are_one_line_before_any_work(bundle_run, music, tmp_path):
    run_dir, _ = bundle_run
    bundle = run_dir / "models" / "mfcc-logreg"
    cases = [
        ([music, "--out", tmp_path], f"--out {tmp_path}: is a folder; name a file in it"),
        (
            [music, "--out", tmp_path / "o.csv", "--top-k", "0"],
            "--top-k 0: expected a whole number >= 1",
        ),
        ([music, "--out", tmp_path / "o.csv", "--device", "gpu"], "--device 'gpu': not a device"),
    ]
    for args, expected in cases:
        result = _predict(bundle, *args)
        assert result.exit_code == 1, result.output
        assert expected in str(result.exception) and "\n" not in str(result.exception)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["music"]  # nothing written
    result = _predict(run_dir, music, "--out", tmp_path / "o.csv")  # the run, not a model
    assert result.exit_code == 1
    assert "a run's folder, not a model bundle; pass one of its models" in str(result.exception)
    assert "(cnn, ensemble, mfcc-logreg)" in str(result.exception)


def test_a_list_with_a_bom_and_a_folder_is_read_as_the_command_line_would(
    bundle_run, music, tmp_path
):
    run_dir, _ = bundle_run
    listing = music / "list.txt"
    listing.write_bytes("\ufeffstereo.wav\r\nnested\r\n".encode())  # as Notepad saves it
    out = tmp_path / "listed.csv"
    result = _predict(run_dir / "models" / "mfcc-logreg", listing, "--out", out, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out, keep_default_na=False)
    assert sorted(rows["file_id"]) == ["mono", "stereo"] and (rows["status"] == "ok").all()


def test_export_to_a_file_is_one_line(bundle_run, tmp_path):
    run_dir, _ = bundle_run
    (tmp_path / "afile").write_text("x")
    result = CliRunner().invoke(
        app, ["export", str(run_dir), str(tmp_path / "afile"), "--model", "cnn"]
    )
    assert result.exit_code == 1
    assert "afile: exists and is not a folder; pass a new folder" in str(result.exception)
