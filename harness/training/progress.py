"""Rich progress bar for the training loop: one bar over all optimiser steps, its description
updated after each epoch with the training loss and validation scores. Silent when disabled
(by default whenever stderr is not a terminal) or on a non-zero DDP rank."""

from __future__ import annotations

import sys

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class EpochProgress:
    """Context manager: ``step()`` after each batch, ``epoch_done(row)`` after each epoch."""

    def __init__(self, *, enabled: bool | None, epochs: int, steps: int, start: int, name: str):
        self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
        self.epochs, self.steps, self.start, self.name = epochs, steps, start, name
        self._progress = None
        self._task = None

    def __enter__(self) -> EpochProgress:
        if self.enabled:
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

    def epoch_done(self, row: dict) -> None:
        if self._progress is None:
            return
        text = f"{self.name} epoch {int(row['epoch'])}/{self.epochs} loss {row['train_loss']:.3f}"
        if row.get("val_log_loss") == row.get("val_log_loss"):  # not NaN
            text += f" val ll {row['val_log_loss']:.3f} f1 {row['val_macro_f1']:.3f}"
        self._progress.update(self._task, description=text)
        self._progress.console.print(text)
