"""How a finished run went, for the command that started it: which models failed.

``fma-harness run`` and ``train`` read this after the leaderboard and report are written, to
end with a line naming the failed models and a non-zero exit code.
"""

from __future__ import annotations

from pathlib import Path

from harness.checks.runs import failures
from harness.run_layout import RunLayout


def failed_models(run_dir: Path) -> list[str]:
    """The models whose ``leaderboard.csv`` row says they failed ([] without a leaderboard)."""
    return list(failures.failed_models(run_dir))


def failure_summary(run_dir: Path) -> str | None:
    """The console's last line for a run whose models failed; None when none failed."""
    failed = failed_models(run_dir)
    if not failed:
        return None
    traceback = RunLayout(Path(run_dir)).model("<model>").error
    return (
        f"FAILED: {len(failed)} model(s) failed: {', '.join(failed)}; tracebacks in "
        f"{traceback}; leaderboard and report written to {run_dir}"
    )
