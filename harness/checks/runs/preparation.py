"""What preparing the data did, as a report entry: ``preparation.json`` of a run.

Loading a dataset can leave clips out or choose a split for the user: genres dropped as too
rare, tracks without a label, a built-in published split recognised (GTZAN's fault-filtered
one), a split grouped by audio fingerprint because no artist is known. The loaders say so in
``PreparedData.notes``; the run writes them to ``preparation.json`` for every task, and this
entry shows them, so that a single-label run reports them as a tagging run does.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.checks.base import CheckResult
from harness.run_layout import IN_RUN, RunLayout

FAMILY = "data preparation"


def from_run(run_dir: Path) -> CheckResult:
    """PASS listing the notes (or saying there are none); SKIP for a run without the file."""
    path = RunLayout(Path(run_dir)).preparation
    if not path.exists():
        finding = f"no {IN_RUN.preparation} in the run (an older run)"
        return CheckResult(FAMILY, "notes", "SKIP", finding)
    facts = json.loads(path.read_text("utf-8"))
    notes = list(facts.get("notes") or [])
    unlabelled = int(facts.get("n_unlabelled") or 0)
    if unlabelled:
        notes.append(f"{unlabelled} tracks of the dataset have no label for the task: left out")
    where = f"{facts.get('format', '?')} dataset, split source: {facts.get('split_source', '?')}"
    if not notes:
        return CheckResult(FAMILY, "notes", "PASS", f"{where}; nothing left out")
    finding = f"{where}; {len(notes)} note{'s' if len(notes) > 1 else ''} on what was left out"
    return CheckResult(FAMILY, "notes", "PASS", finding, evidence="\n".join(notes))
