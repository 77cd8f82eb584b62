"""Where a run's time goes: wall-clock seconds per stage, for the manifest, report and console.

A run times its stages with :class:`StageTimes` (``with times.stage("features"): ...``) and
records model stages in three parts: ``train`` (the fit, as the leaderboard's
``train_seconds``), ``predict`` (logits for every group, calibration, scoring and saving) and
``sanity`` (the neural model checks). The table is a list of plain dicts, ready for JSON.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class StageTimes:
    """Stages in the order they ran: ``[{"stage": str, "seconds": float}, ...]``."""

    rows: list[dict] = field(default_factory=list)
    _block: str | None = field(default=None, init=False, repr=False)  # the open block()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as stage ``name`` (recorded even when the block raises)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    @contextlib.contextmanager
    def block(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as stage ``name``, a stage whose parts run alongside each
        other: every stage recorded meanwhile is marked as within it, and listed after it."""
        if self._block is not None:
            raise RuntimeError(f"stage block {name!r} opened inside block {self._block!r}")
        started, first = time.perf_counter(), len(self.rows)
        self._block = name
        try:
            yield
        finally:
            self._block = None
            seconds = round(time.perf_counter() - started, 2)
            self.rows.insert(first, {"stage": name, "seconds": seconds})

    def add(self, name: str, seconds: float, *, within: str | None = None) -> None:
        """Record ``seconds`` of wall-clock time for stage ``name``; ``within``: the stage that
        ran it alongside others (its time is counted there, not again in the total), by
        default the open :meth:`block`, if any."""
        row = {"stage": name, "seconds": round(float(seconds), 2)}
        within = within or self._block
        if within is not None:
            row["within"] = within
        self.rows.append(row)

    @property
    def total(self) -> float:
        """Wall-clock sum of the recorded stages (stages within another not counted), in s."""
        return round(sum(row["seconds"] for row in self.rows if "within" not in row), 2)

    def table(self) -> list[dict]:
        """The rows plus a final ``total`` row, each with its share of the total (percent)."""
        total = self.total
        rows = [
            dict(row, share=round(100 * row["seconds"] / total, 1) if total else 0.0)
            for row in self.rows
        ]
        return [*rows, {"stage": "total", "seconds": total, "share": 100.0}]


def format_table(rows: list[dict]) -> str:
    """The :meth:`StageTimes.table` rows as aligned text lines (for the console and logs)."""
    names = [("  " if "within" in row else "") + row["stage"] for row in rows]
    width = max((len(name) for name in names), default=5)
    return "\n".join(
        f"  {name:<{width}}  {row['seconds']:>8.1f} s  {row.get('share', 0.0):>5.1f} %"
        for name, row in zip(names, rows, strict=True)
    )
