"""The robustness figure: each model's change in test accuracy under each audio change, as
grouped bars, drawn off-screen with :func:`harness.checks.base.new_figure` (PNG bytes)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.checks.base import figure_png, new_figure

MILD_SHADE = "#e8f1fa"


def accuracy_change_figure(
    table: pd.DataFrame, *, mild: list[str] | tuple[str, ...], threshold: float
) -> bytes:
    """Grouped bars: one group per change (in the table's order), one bar per model.

    Parameters
    ----------
    table : pd.DataFrame
        ``robustness.csv`` rows: columns ``model``, ``change``, ``delta_accuracy`` (changed
        minus clean, a fraction).
    mild : sequence of str
        The mild changes: their groups are shaded and their labels starred.
    threshold : float
        The accuracy loss (a fraction) beyond which a mild change is a warning; drawn as a
        dashed line at ``-threshold``.
    """
    changes = list(dict.fromkeys(table["change"]))
    models = list(dict.fromkeys(table["model"]))
    deltas = table.pivot_table(
        index="change", columns="model", values="delta_accuracy", aggfunc="first"
    ).reindex(index=changes, columns=models)
    fig, ax = new_figure(width=max(6.0, 0.9 * len(changes) + 2.5), height=3.8)
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(changes))
    for i, change in enumerate(changes):
        if change in mild:
            ax.axvspan(i - 0.5, i + 0.5, color=MILD_SHADE, zorder=0)
    for j, model in enumerate(models):
        offset = (j - (len(models) - 1) / 2) * width
        ax.bar(x + offset, 100 * deltas[model].to_numpy(dtype=float), width, label=model, zorder=2)
    ax.axhline(0.0, color="black", linewidth=0.8, zorder=3)
    ax.axhline(
        -100 * threshold,
        color="#c0392b",
        linestyle="--",
        linewidth=0.9,
        zorder=3,
        label=f"mild-change limit (-{100 * threshold:.0f} points)",
    )
    ax.set_xticks(
        x, [f"{c}*" if c in mild else c for c in changes], rotation=30, ha="right", fontsize=8
    )
    ax.set_ylabel("test accuracy change (points)")
    ax.set_title("Accuracy under audio changes (* mild, shaded)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure_png(fig)
