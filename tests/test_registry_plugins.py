"""Users' own models and checks, from an installed package's entry points or a module:attr name,
show up in `fma-harness models`, a run's leaderboard and its report."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness import registry
from harness.checks import registry as check_registry
from harness.cli import app
from harness.config.run_config import RunConfig
from harness.errors import ParameterError
from harness.run.pipeline import run_pipeline

PLUGIN_MODELS = '''
"""A user's models: a feature-table estimator and a tiny log-mel network."""
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def build_ridge_logreg(*, random_state=0, C=0.1):
    """Strongly regularised logistic regression on MFCC-140."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, random_state=random_state))


class TinyNet(torch.nn.Module):
    def __init__(self, n_classes, n_mels):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.head = torch.nn.Linear(4, n_classes)

    def forward(self, x):
        x = x.unsqueeze(1) if x.dim() == 3 else x
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def build_tiny_net(*, n_classes, n_mels, preset="compact"):
    """One conv layer and a linear head on log-mel chunks."""
    return TinyNet(n_classes, n_mels)


build_tiny_net.consumes = "logmel"
build_tiny_net.training_defaults = {"epochs": 1, "batch_size": 8}
'''

PLUGIN_CHECKS = '''
"""A user's check, run on every run directory when its report is assembled."""
import pandas as pd

from harness.checks.base import CheckResult


def leaderboard_size(run_dir):
    board = pd.read_csv(run_dir / "leaderboard.csv")
    return CheckResult(
        family="user checks", name="leaderboard_size", verdict="PASS",
        finding=f"the leaderboard has {len(board)} models",
    )
'''

ENTRY_POINTS = """
[fma_harness.models]
ridge-logreg = my_plugin.models:build_ridge_logreg

[fma_harness.checks]
leaderboard-size = my_plugin.checks:leaderboard_size
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A package `my_plugin` installed on sys.path with an entry point for one model."""
    package = tmp_path / "my_plugin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(textwrap.dedent(PLUGIN_MODELS))
    (package / "checks.py").write_text(textwrap.dedent(PLUGIN_CHECKS))
    dist = tmp_path / "my_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh_entry_points()
    check_registry.refresh_entry_points()
    yield tmp_path
    registry.refresh_entry_points()
    check_registry.refresh_entry_points()


def test_entry_point_model_is_listed_with_what_it_consumes(plugin):
    entry = registry.model_entries()["ridge-logreg"]
    assert (entry.target, entry.consumes) == ("my_plugin.models:build_ridge_logreg", "features")
    assert entry.summary == "Strongly regularised logistic regression on MFCC-140."
    listed = CliRunner().invoke(app, ["models"])
    assert listed.exit_code == 0, listed.output
    assert "ridge-logreg" in listed.output


def test_a_broken_entry_point_names_itself_and_stops_no_other_model(plugin):
    # one package's broken entry point made every entry-point model, and `models`, fail
    dist = plugin / "my_plugin-0.1.dist-info" / "entry_points.txt"
    dist.write_text(
        ENTRY_POINTS.replace(
            "[fma_harness.checks]", "broken = my_plugin.nope:thing\n\n[fma_harness.checks]"
        )
    )
    registry.refresh_entry_points()
    assert registry.get_entry("ridge-logreg").consumes == "features"
    with pytest.raises(ParameterError) as info:
        registry.get_entry("broken")
    message = str(info.value)
    assert message.startswith("entry point fma_harness.models:broken (my_plugin.nope:thing): ")
    assert "module my_plugin.nope not found" in message
    assert message.endswith("fix or uninstall the package that registers it")
    listed = CliRunner().invoke(app, ["models"])
    assert listed.exit_code == 0, listed.output
    assert "ridge-logreg" in listed.output and "broken: entry point" in listed.output


def test_module_attr_target_declares_its_input():
    with pytest.raises(ParameterError, match="no attribute nope"):
        registry.get_entry("harness.registry:nope")
    with pytest.raises(ParameterError, match="module no_such_pkg not found"):
        registry.get_entry("no_such_pkg.models:build")


def test_unknown_name_suggests_the_closest(plugin):
    with pytest.raises(ParameterError, match="Did you mean: ridge-logreg"):
        registry.get_entry("ridge-logre")


@pytest.mark.slow
def test_user_models_train_and_reach_leaderboard_and_report(plugin, synth_root, tmp_path):
    tiny = "my_plugin.models:build_tiny_net"
    config = RunConfig(
        root=synth_root,
        models=["prior", "ridge-logreg", tiny],
        out=tmp_path / "runs",
        submissions_dir=tmp_path / "submissions",
        cache_dir=tmp_path / "cache",
        quick=True,
        checks=False,
        n_jobs=1,
        run_id="plugins",
    )
    run_dir = run_pipeline(config)
    board = pd.read_csv(run_dir / "leaderboard.csv").set_index("model")
    # users' models take part in the ensemble like the built-in ones
    assert set(board.index) == {"prior", "ridge-logreg", tiny, "ensemble"}
    members = board.loc["ensemble", "notes"]
    assert "ridge-logreg" in members and tiny in members
    assert (board["status"] == "ok").all(), board["status"].to_dict()
    assert (run_dir / "models" / tiny / "model.pt").exists()
    report = (run_dir / "report.md").read_text()
    assert "ridge-logreg" in report and tiny in report
    assert "the leaderboard has 4 models" in report  # the plugin's check ran on this run
