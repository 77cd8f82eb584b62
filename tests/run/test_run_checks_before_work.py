"""Every option of `run` and `train` is checked before any work: one line, exit 1, no files.

Each case goes through the CLI (typer's CliRunner on harness.cli.app, where a HarnessError is
what ``harness.cli.main`` turns into one stderr line and exit code 1; one case runs the real
program to see that line and the exit code in the shell).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config.run_config import RunConfig, check_config
from harness.errors import HarnessError, ParameterError


def _torch_has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory: the default submissions/ and data/ would land here."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _base(synth_root: Path, command: str = "run") -> list[str]:
    args = [command] if command == "run" else [command, "mfcc-logreg"]
    return [
        *args,
        "--root",
        str(synth_root),
        "--out",
        "runs",
        "--cache-dir",
        "cache",
        "--quick",
        "--n-jobs",
        "1",
    ]


def _assert_refused_before_work(result, workdir: Path, *expected: str) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, ParameterError), repr(result.exception)
    message = str(result.exception)
    assert "\n" not in message, message
    for text in expected:
        assert text in message, message
    for folder in ("runs", "cache", "submissions", "data"):
        assert not (workdir / folder).exists(), folder  # nothing decoded, trained or written
    return message


CASES = {
    "device-foo": (["--device", "foo"], ["--device 'foo'", "expected auto, cpu, cuda"]),
    "seed-negative": (["--seed", "-1"], ["--seed -1", "from 0 to 4294967295"]),
    "seed-too-large": (["--seed", str(2**32)], ["--seed 4294967296"]),
    "models-empty": (["--models", ""], ["--models is empty", "leave --models out"]),
    "models-commas": (["--models", ","], ["--models is empty"]),
    "models-typo": (["--models", "crn"], ["--models: Unknown model 'crn'", "Did you mean: crnn"]),
    "models-twice": (["--models", "prior,prior"], ["--models lists prior more than once"]),
    "test-dir-missing": (["--test-dir", "nowhere"], ["--test-dir nowhere", "does not exist"]),
    "device-cuda-index": (["--device", "cuda:99"], ["--device cuda:99"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_run_refuses_a_bad_option_before_any_work(case, synth_root, workdir):
    extra, expected = CASES[case]
    if case == "device-cuda-index" and not _torch_has_cuda():
        expected = ["CUDA is not available"]
    result = CliRunner().invoke(app, [*_base(synth_root), *extra])
    _assert_refused_before_work(result, workdir, *expected)


def test_cuda_asked_for_without_cuda_is_refused(synth_root, workdir):
    if _torch_has_cuda():
        pytest.skip("this machine has CUDA")
    result = CliRunner().invoke(app, [*_base(synth_root), "--models", "cnn", "--device", "cuda"])
    message = _assert_refused_before_work(result, workdir, "--device cuda: CUDA is not available")
    assert "--device cpu" in message  # what to do


def test_an_unknown_params_key_is_refused_with_the_closest_name(synth_root, workdir):
    (workdir / "run.toml").write_text('models = ["crnn"]\n[params.crnn]\nepoch = 3\n')
    result = CliRunner().invoke(app, [*_base(synth_root), "--config", "run.toml"])
    message = _assert_refused_before_work(
        result, workdir, "[params.crnn] epoch: not a setting of crnn", "Did you mean 'epochs'?"
    )
    assert "batch_size" in message and "random_state" not in message


def test_a_key_a_baseline_passes_on_to_its_estimator_is_checked_too(synth_root, workdir):
    # the factory takes **params: the estimator it builds decides, and is built before any work
    (workdir / "run.toml").write_text('models = ["mfcc-logreg"]\n[params.mfcc-logreg]\nCC = 1\n')
    result = CliRunner().invoke(app, [*_base(synth_root), "--config", "run.toml"])
    _assert_refused_before_work(result, workdir, "[params.mfcc-logreg]", "'CC'")


def test_a_setting_the_run_owns_points_to_its_option(synth_root, workdir):
    (workdir / "run.toml").write_text('[params.cnn]\ndevice = "cpu"\n')
    result = CliRunner().invoke(app, [*_base(synth_root), "--config", "run.toml"])
    _assert_refused_before_work(result, workdir, "[params.cnn] device: set by the run", "--device")


def test_an_output_folder_that_cannot_be_written_is_refused(synth_root, workdir):
    (workdir / "taken").write_text("a file, not a folder\n")
    result = CliRunner().invoke(app, [*_base(synth_root), "--out", "taken/runs"])
    _assert_refused_before_work(result, workdir, "--out taken/runs", "taken is a file")
    result = CliRunner().invoke(app, [*_base(synth_root), "--cache-dir", "taken"])
    _assert_refused_before_work(result, workdir, "--cache-dir taken", "is a file, not a folder")


def test_a_read_only_output_folder_is_refused(synth_root, workdir):
    import os

    locked = workdir / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):
        pytest.skip("permissions are not enforced for this user (root)")
    result = CliRunner().invoke(app, [*_base(synth_root), "--out", "locked/runs"])
    _assert_refused_before_work(result, workdir, "--out locked/runs", "is not writable")


def test_train_goes_through_the_same_checks(synth_root, workdir):
    result = CliRunner().invoke(app, [*_base(synth_root, "train"), "--seed", "-1"])
    _assert_refused_before_work(result, workdir, "--seed -1")
    result = CliRunner().invoke(app, [*_base(synth_root, "train"), "--test-dir", "nowhere"])
    _assert_refused_before_work(result, workdir, "--test-dir nowhere")


def test_the_shell_sees_one_line_and_exit_code_1(synth_root, tmp_path):
    args = [sys.executable, "-m", "harness", *_base(synth_root), "--models", ""]
    result = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --models is empty"), lines
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()


def _config(synth_root: Path, tmp_path: Path, **overrides) -> RunConfig:
    values = dict(
        root=synth_root,
        models=["prior"],
        out=tmp_path / "runs",
        submissions_dir=tmp_path / "submissions",
        cache_dir=tmp_path / "cache",
    )
    return RunConfig(**(values | overrides))


def test_an_answer_key_must_match_the_test_folder(synth_root, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    clips = sorted((synth_root / "crowdai_fma_test").glob("*.mp3"))
    for clip in clips[:3]:
        shutil.copy(clip, own / clip.name)
    root_key = synth_root / "crowdai_fma_test_answers.csv"
    with pytest.raises(ParameterError, match=r"--answers .*does not match the 3 clips of"):
        check_config(_config(synth_root, tmp_path, test_dir=own, answers=root_key))
    check_config(_config(synth_root, tmp_path, answers=root_key))  # the root's own folder
    key = tmp_path / "own_answers.csv"
    lines = root_key.read_text().splitlines()
    kept = [line for line in lines[1:] if line.split(",")[0] in {c.stem for c in clips[:3]}]
    key.write_text("\n".join([lines[0], *kept]) + "\n")
    check_config(_config(synth_root, tmp_path, test_dir=own, answers=key))
    with pytest.raises(ParameterError, match=r"--answers .*nope\.csv"):
        check_config(_config(synth_root, tmp_path, answers=tmp_path / "nope.csv"))


def test_more_refusals_of_check_config(synth_root, tmp_path):
    def refused(match: str, **overrides) -> None:
        with pytest.raises(HarnessError, match=match):
            check_config(_config(synth_root, tmp_path, **overrides))

    refused(r"--seed '3'", seed="3")
    refused(r"--seed True", seed=True)
    refused(r"models 'crnn': expected a list", models="crnn")
    refused(r"--root .*no fma_metadata/tracks.csv", root=tmp_path)
    refused(r"--test-dir .*holds no \.mp3 clips", test_dir=tmp_path)
    refused(
        r"\[params.knn\] random_state: set by the run.*--seed", params={"knn": {"random_state": 1}}
    )
    refused(r"\[params.nope\]: Unknown model 'nope'", params={"nope": {}})
    # a factory with **kwargs forwards its keys: the estimator it builds accepts or refuses them
    check_config(_config(synth_root, tmp_path, params={"knn": {"alpha": 0.5}}))
    refused(r"\[params.knn\]: a setting is not accepted", params={"knn": {"weights": "distance"}})
    check_config(_config(synth_root, tmp_path, params={"cnn": {"epochs": 3, "model_params": {}}}))


def test_zero_workers_are_refused_in_run_toml_too(synth_root, tmp_path):
    for value in (0, "2", 1.5):
        with pytest.raises(ParameterError, match=r"--n-jobs .*expected 1 or more workers, or -1"):
            check_config(_config(synth_root, tmp_path, n_jobs=value))
    check_config(_config(synth_root, tmp_path, n_jobs=-2))


@pytest.mark.parametrize("command", ["run", "features", "check", "predict", "data decode-check"])
def test_zero_workers_are_one_line_in_every_command(command, workdir):
    # joblib's own refusal came as a traceback from the first parallel call, after other work
    result = CliRunner().invoke(app, [*command.split(), "--n-jobs", "0"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, ParameterError)  # the CLI prints it as one line
    assert "--n-jobs 0: expected 1 or more workers, or -1 for every core" in str(result.exception)
    assert not any(workdir.iterdir())


def test_a_collection_too_small_for_a_validation_split_is_refused_before_any_work(workdir):
    import numpy as np
    import soundfile as sf

    rows = ["path,label"]
    for k in range(6):  # two clips of each of three labels: all of them go to training
        sf.write(workdir / f"clip{k}.wav", np.full(4000, 0.1 * (k + 1), np.float32), 8000)
        rows.append(f"clip{k}.wav,{'abc'[k % 3]}")
    (workdir / "manifest.csv").write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--root",
            "manifest.csv",
            "--models",
            "prior",
            "--out",
            "runs",
            "--cache-dir",
            "cache",
        ],
    )
    assert result.exit_code == 1, result.output
    message = str(result.exception)
    assert message.startswith("manifest.csv: no clip is in the validation split (training 6")
    assert "add clips (at least 10 per label)" in message and "\n" not in message
    assert not (workdir / "runs").exists() and not (workdir / "cache").exists()


RUN_TOML_CASES = {
    "bool-as-string": ('resplit = "no"\n', "resplit = 'no': expected true or false"),
    "path-as-number": ("out = 5\n", "out = 5: expected a path"),
    "model-as-number": ('models = ["prior", 5]\n', "models = ['prior', 5]: expected a list"),
    "params-not-tables": ("params = 5\n", "params = 5: expected a table per model"),
    "run-id-as-number": ("run_id = 5\n", "run_id = 5: expected a string"),
    "unknown-model-param": (
        'models = ["cnn"]\n[params.cnn]\nmodel_params = { gru_hidden = 64 }\n',
        "[params.cnn]: Unknown cnn setting(s) ['gru_hidden']",
    ),
    "preset-typo": (
        'models = ["cnn"]\n[params.cnn]\npreset = "papr"\n',
        "[params.cnn]: Unknown cnn preset 'papr'",
    ),
    "epochs-as-string": (
        'models = ["cnn"]\n[params.cnn]\nepochs = "2"\n',
        "[params.cnn] epochs = '2': expected a whole number of 1 or more",
    ),
    "epochs-zero": ('models = ["cnn"]\n[params.cnn]\nepochs = 0\n', "[params.cnn] epochs = 0"),
}


@pytest.mark.parametrize("case", sorted(RUN_TOML_CASES))
def test_a_bad_run_toml_value_is_one_line_before_any_work(case, synth_root, workdir):
    # each was a traceback, did the opposite of what it said, or failed a model after the data
    text, expected = RUN_TOML_CASES[case]
    (workdir / "run.toml").write_text(text)
    result = CliRunner().invoke(app, [*_base(synth_root), "--config", "run.toml"])
    _assert_refused_before_work(result, workdir, expected)


def test_a_run_id_is_a_plain_name_of_no_earlier_run(synth_root, workdir):
    for bad in ("../escape", "a/b"):
        result = CliRunner().invoke(app, [*_base(synth_root), "--run-id", bad])
        _assert_refused_before_work(result, workdir, f"--run-id '{bad}': expected a plain folder")
    earlier = workdir / "runs" / "R"
    earlier.mkdir(parents=True)
    (earlier / "leaderboard.csv").write_text("model\nknn\n")
    result = CliRunner().invoke(app, [*_base(synth_root), "--run-id", "R"])
    assert result.exit_code == 1 and "runs/R already holds a run; pass another --run-id" in str(
        result.exception
    )
    assert (earlier / "leaderboard.csv").read_text() == "model\nknn\n"  # untouched


def test_the_command_line_wins_over_run_toml_and_params_over_the_preset(tmp_path):
    from harness.commands.run import _config
    from harness.registry import QUICK_EPOCHS, get_entry, neural_settings
    from harness.run.model_training import fit_options

    (tmp_path / "run.toml").write_text("quick = true\n")
    full = _config(tmp_path / "run.toml", quick=False)  # --full
    assert full.training_preset == "full"
    (tmp_path / "run.toml").write_text('preset = "quick"\n')
    by_preset = _config(tmp_path / "run.toml")
    assert fit_options(by_preset, None, None, "mfcc-logreg").quick  # trained 20 epochs before
    cnn = get_entry("cnn")
    assert neural_settings(cnn, preset="quick", params={}, quick=True)["epochs"] == QUICK_EPOCHS
    assert neural_settings(cnn, preset="quick", params={"epochs": 3}, quick=True)["epochs"] == 3
