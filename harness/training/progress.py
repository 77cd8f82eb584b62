"""Training progress: a rich bar on a terminal, plain lines anywhere else.

On a terminal, one bar over all optimiser steps, its description updated after each epoch with
the training loss and validation scores. When stderr is not a terminal (a batch job, CI,
``nohup``, a log file) a line per epoch on stdout (epoch, training loss, validation log loss and
macro F1, elapsed, estimated time left) and, within an epoch longer than
:data:`LINE_EVERY_SECONDS`, a line at least that often. Silent when disabled or on a non-zero
DDP rank.
"""

from __future__ import annotations

import sys
import time

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from harness import log

LINE_EVERY_SECONDS = 30.0  # longest silence in line mode
_lines_only = False  # set by lines_only(): lines even on a terminal


def lines_only() -> None:
    """Print lines instead of a bar in this process, even on a terminal (models training side
    by side in worker processes, whose bars would overwrite each other's)."""
    global _lines_only
    _lines_only = True


class EpochProgress:
    """Context manager: ``step()`` after each batch, ``epoch_done(row)`` after each epoch.

    ``enabled``: True for the bar, False for silence, None for the bar on a terminal and lines
    elsewhere.
    """

    def __init__(self, *, enabled: bool | None, epochs: int, steps: int, start: int, name: str):
        if log.is_quiet() and not enabled:
            self.mode = "off"
        elif enabled is None:
            self.mode = "bar" if sys.stderr.isatty() and not _lines_only else "lines"
        else:
            self.mode = "bar" if enabled else "off"
        self.enabled = self.mode != "off"
        self.epochs, self.steps, self.start, self.name = epochs, steps, start, name
        self._progress = None
        self._task = None
        self._started = self._last_line = time.perf_counter()
        self._epoch, self._step = start + 1, 0

    def __enter__(self) -> EpochProgress:
        if self.mode == "bar":
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(
                f"{self.name} epoch {self.start + 1}/{self.epochs}",
                total=self.epochs * self.steps,
                completed=self.start * self.steps,
            )
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def step(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)
        elif self.mode == "lines":
            self._step += 1
            if time.perf_counter() - self._last_line >= LINE_EVERY_SECONDS:
                self._line(
                    f"{self.name} epoch {self._epoch}/{self.epochs} step {self._step}/{self.steps}"
                )

    def epoch_done(self, row: dict) -> None:
        text = f"{self.name} epoch {int(row['epoch'])}/{self.epochs} loss {row['train_loss']:.3f}"
        val = row.get("val_log_loss")
        if val is not None and val == val:  # present and not NaN
            text += f" val ll {row['val_log_loss']:.3f} f1 {row['val_macro_f1']:.3f}"
        if self._progress is not None:
            self._progress.update(self._task, description=text)
            self._progress.console.print(text)
        elif self.mode == "lines":
            self._epoch, self._step = int(row["epoch"]) + 1, 0
            self._line(text)

    def _line(self, text: str) -> None:
        """Print ``text`` with the elapsed time and, from the steps done, the time left."""
        now = time.perf_counter()
        elapsed = now - self._started
        done = (self._epoch - 1 - self.start) * self.steps + self._step
        total = (self.epochs - self.start) * self.steps
        left = f", ~{elapsed / done * (total - done):.0f} s left" if 0 < done < total else ""
        log.info(f"  {text}  ({elapsed:.0f} s{left})")
        self._last_line = now
