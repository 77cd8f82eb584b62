"""Where the run's time went: the stage timing table of ``manifest.json`` as a report entry.

The run records wall-clock seconds per stage (data, features, data checks, each model's
train / predict / sanity, submissions, report; see :mod:`harness.run.timing`). This entry
names the largest stage and says how to shorten it; the table is its evidence. The report is
rendered before its own stage ends, so the table shown stops at the stages before it; the
manifest is rewritten afterwards with the report's time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.checks.base import CheckResult
from harness.run_layout import IN_RUN, RunLayout

FAMILY = "run time"
NEURAL_STAGE_HINT = (
    "a neural model's training leads: `--quick` (a few epochs) for a smoke run, "
    "`[params.NAME] epochs = N` in run.toml, or `--device cuda` on a GPU"
)


def from_run(run_dir: Path) -> CheckResult:
    """PASS with the stage table; SKIP when the manifest has none (an older run)."""
    path = RunLayout(Path(run_dir)).manifest
    rows = json.loads(path.read_text("utf-8")).get("stage_seconds") if path.exists() else None
    if not rows:
        finding = f"no stage timing in {IN_RUN.manifest}"
        return CheckResult(FAMILY, "stage_times", "SKIP", finding)
    table = pd.DataFrame(rows)
    stages = table[table["stage"] != "total"]
    if "within" in stages:  # a model's stages run side by side, counted in their block
        stages = stages[stages["within"].isna()]
    top = stages.loc[stages["seconds"].idxmax()]
    total = float(table["seconds"].iloc[-1]) if table["stage"].iloc[-1] == "total" else 0.0
    finding = (
        f"{total:.0f} s until the report; the largest stage: {top['stage']} "
        f"({top['seconds']:.0f} s, {top.get('share', 0.0):.0f} %)"
    )
    # a block of stages run side by side leads with the training it holds
    inside = table.loc[table["within"] == top["stage"], "stage"] if "within" in table else []
    training = any(str(name).endswith(": train") for name in [top["stage"], *inside])
    action = NEURAL_STAGE_HINT if training else ""
    return CheckResult(FAMILY, "stage_times", "PASS", finding, evidence=table, action=action)
