"""Training presets: the fast default, --full (each model's thorough schedule), --quick."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.commands.run import _config
from harness.config.run_config import RunConfig, check_config
from harness.errors import ParameterError
from harness.registry import get_entry, names, training_defaults
from harness.run.model_run import FitOptions, build_estimator


def test_cli_flags_choose_the_preset():
    assert _config(None).training_preset == "fast"
    assert _config(None, quick=True).training_preset == "quick"
    assert _config(None, quick=False).training_preset == "full"  # --full
    help_text = CliRunner().invoke(app, ["run", "--help"], terminal_width=200).output
    assert "--full" in help_text and "--quick" in help_text


def test_an_unknown_preset_is_refused_before_any_work():
    with pytest.raises(ParameterError, match="preset 'medium' is not one of quick, fast, full"):
        check_config(RunConfig(preset="medium"))


@pytest.mark.parametrize("name", [n for n in names() if get_entry(n).is_neural])
def test_every_neural_model_has_a_shorter_fast_schedule(name):
    entry = get_entry(name)
    full, fast = training_defaults(entry), training_defaults(entry, preset="fast")
    assert fast["epochs"] < full["epochs"]
    for preset, settings in (("full", full), ("fast", fast)):
        estimator = build_estimator(name, task="genre_top", options=FitOptions(preset=preset))
        assert estimator.epochs == settings["epochs"]
    quick = build_estimator(name, task="genre_top", options=FitOptions(quick=True, preset="quick"))
    assert quick.epochs == 2


def test_run_params_win_over_the_preset():
    options = FitOptions(preset="fast", params={"epochs": 3})
    assert build_estimator("cnn", task="genre_top", options=options).epochs == 3


def test_the_fast_crnn_pools_time_4x_and_full_keeps_the_compact_2x():
    def crnn_config(preset: str, params: dict | None = None):
        options = FitOptions(preset=preset, params=params or {})
        estimator = build_estimator("crnn", task="genre_top", options=options)
        return estimator.build_module(n_classes=8, n_mels=96).config

    def time_pooling(config) -> int:
        return math.prod(time for _, time in config.pools)

    assert time_pooling(crnn_config("fast")) == 4 and time_pooling(crnn_config("full")) == 2
    # a run's own model preset or sizes still apply under the fast schedule
    assert time_pooling(crnn_config("fast", {"preset": "paper"})) == 2 * 3 * 4 * 4
    refined = crnn_config("fast", {"model_params": {"gru_hidden": 32}})
    assert refined.gru_hidden == 32 and time_pooling(refined) == 4
