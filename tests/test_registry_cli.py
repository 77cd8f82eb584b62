"""Registry look-ups, the CLI's error handling and the run config file."""

import subprocess
import sys

import pytest

from harness.errors import ParameterError
from harness.registry import CONSUMES, get_entry, load_target, model_entries, names


def test_unknown_model_suggests_the_closest_names():
    with pytest.raises(ParameterError, match=r"Unknown model 'crn'\. Did you mean: crnn"):
        get_entry("crn")


def test_every_target_is_a_module_colon_attribute():
    entries = model_entries()
    for entry in entries.values():
        module, _, attr = entry.target.partition(":")
        assert module and attr, entry
        assert entry.consumes in CONSUMES
    neural = {name for name, entry in entries.items() if entry.is_neural}
    assert neural == {"cnn", "crnn", "short-chunk", "musicnn-finetune"}
    assert "musicnn-finetune" not in names()  # opt-in: not in the default run
    assert set(names()) <= set(entries)


def test_load_target_imports_lazily():
    assert load_target("harness.data.layout:FmaLayout").__name__ == "FmaLayout"


def test_help_does_not_import_torch():
    code = "import sys; from harness.cli import app; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_user_error_is_one_line_and_exit_code_1():
    result = subprocess.run(
        [sys.executable, "-m", "harness", "train", "crn"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: Unknown model 'crn'. Did you mean: crnn, cnn? "
        "Known: uniform, prior, mfcc-logreg, svm, knn, mlp, cnn, crnn, short-chunk, "
        "musicnn-probe, musicnn-zeroshot, musicnn-finetune "
        "(or a 'package.module:factory' target)."
    ]
    assert "Traceback" not in result.stderr


def test_config_file_rejects_unknown_keys(tmp_path):
    from harness.config.run_config import load_config_file

    path = tmp_path / "run.toml"
    path.write_text('subset = "medium"\nseeed = 3\n')
    with pytest.raises(ParameterError, match="unknown option.*seeed"):
        load_config_file(path)
    path.write_text('subset = "medium"\nroot = "/data/fma"\nmodels = ["crnn"]\n')
    values = load_config_file(path)
    assert values["subset"] == "medium" and str(values["root"]) == "/data/fma"
    assert values["models"] == ["crnn"]


def test_typer_exit_code_reaches_the_shell(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("file_id;Blues\n")
    result = subprocess.run(
        [sys.executable, "-m", "harness", "validate", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 2, result.stderr


def test_usage_error_is_a_usage_message_not_a_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--no-such-option"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "No such option: --no-such-option" in result.stderr
    assert "Traceback" not in result.stderr
