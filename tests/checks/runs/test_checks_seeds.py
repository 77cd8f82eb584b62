"""The seed checks on constructed per-seed tables: ranking flips found (which models, which
seeds), WARN only when the winner changes, and a SKIP with its reason for a single seed."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.checks.runs.seeds import from_run as seed_checks
from harness.checks.runs.seeds import ranking_changes, seed_ranking

SEED_TABLE = "leaderboard_seeds.csv"  # the run folder's name (harness.run_layout)


def _table(losses: dict[str, list[float]], seeds=(0, 1, 2)) -> pd.DataFrame:
    """leaderboard_seeds.csv rows: model -> test log loss per seed (NaN: failed there)."""
    rows = []
    for seed_index, seed in enumerate(seeds):
        for model, values in losses.items():
            value = values[seed_index]
            status = "ok" if value == value else "failed: RuntimeError"
            rows.append({"model": model, "seed": seed, "status": status, "test_log_loss": value})
    return pd.DataFrame(rows)


def test_a_winner_that_changes_between_seeds_is_named_with_its_seeds():
    table = _table({"cnn": [0.80, 0.95, 0.81], "crnn": [0.85, 0.90, 0.86], "mlp": [1.2, 1.1, 1.3]})
    changes = ranking_changes(table, "test_log_loss")
    assert changes.winners == {0: "cnn", 1: "crnn", 2: "cnn"} and changes.winner_changes
    # mlp is last in every seed: only cnn and crnn swap
    assert [(f.ahead, f.behind, f.ahead_in, f.behind_in) for f in changes.flips] == [
        ("cnn", "crnn", [0, 2], [1])
    ]
    result = seed_ranking(table, "test")
    assert result.verdict == "WARN"
    assert "changes between seeds: cnn in seeds 0, 2; crnn in seed 1" in result.finding
    assert "cnn vs crnn (cnn ahead in seeds 0, 2 but crnn in seed 1)" in result.finding
    ranks = result.evidence.set_index("model")["ranks"]
    assert ranks.to_dict() == {"cnn": "1, 2, 1", "crnn": "2, 1, 2", "mlp": "3, 3, 3"}


def test_a_stable_winner_passes_and_names_the_lower_places_that_swap():
    table = _table({"cnn": [0.5, 0.5, 0.6], "crnn": [0.8, 0.9, 0.7], "mlp": [0.9, 0.8, 0.9]})
    result = seed_ranking(table, "test")
    assert result.verdict == "PASS"
    assert "is cnn in all 3 seeds" in result.finding
    assert "lower places swap: crnn vs mlp (crnn ahead in seeds 0, 2 but mlp in seed 1)" in (
        result.finding
    )
    steady = seed_ranking(_table({"cnn": [0.5, 0.6, 0.5], "mlp": [0.9, 0.8, 0.9]}), "test")
    assert steady.verdict == "PASS" and "the same order in every seed" in steady.finding
    tied = _table({"a": [1.0, 1.0, 1.0], "b": [1.0, 1.0, 1.0]})
    assert ranking_changes(tied, "test_log_loss").flips == []  # a tie is no flip


def test_references_and_models_missing_a_seed_are_not_ranked():
    table = _table(
        {
            "prior": [0.1, 2.0, 0.1],
            "cnn": [0.5, 0.9, 0.5],
            "mlp": [0.8, 0.7, 0.8],
            "svm": [0.1, float("nan"), 0.1],
        }
    )
    changes = ranking_changes(table, "test_log_loss")
    assert set(changes.winners.values()) == {"cnn", "mlp"}
    assert {f.ahead for f in changes.flips} | {f.behind for f in changes.flips} == {"cnn", "mlp"}


def test_one_seed_is_a_skip_with_the_way_to_see_the_spread(tmp_path):
    (skipped,) = seed_checks(tmp_path)  # no leaderboard_seeds.csv: a single-seed run
    assert skipped.verdict == "SKIP" and "run with --seeds 0,1,2" in skipped.finding
    _table({"cnn": [0.5]}, seeds=(3,)).to_csv(tmp_path / SEED_TABLE, index=False)
    assert [r.verdict for r in seed_checks(tmp_path)] == ["SKIP"]


def test_a_multi_label_run_skips_with_where_its_seed_scores_are(tmp_path):
    table = _table({"cnn": [0.5, 0.6, 0.5]}).rename(columns={"test_log_loss": "test_pr_auc_macro"})
    table.to_csv(tmp_path / SEED_TABLE, index=False)
    (skipped,) = seed_checks(tmp_path)
    assert skipped.verdict == "SKIP" and "leaderboard_seeds.csv" in skipped.finding


@pytest.mark.parametrize("models", [["cnn"], ["cnn", "prior"]])
def test_fewer_than_two_rankable_models_is_a_skip(models):
    losses = {"cnn": [0.5, 0.6, 0.5], "prior": [2.0, 2.0, 2.0]}
    table = _table({m: losses[m] for m in models})
    assert seed_ranking(table, "test").verdict == "SKIP"
