"""The report's matplotlib figures, drawn off-screen and returned as PNG bytes.

Every function takes plain arrays or tables and returns ``bytes`` (PNG) made with
:func:`harness.checks.base.new_figure` (a pyplot-free Agg figure), so nothing here touches
global matplotlib state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.checks.base import figure_png, new_figure


def comparison_figure(table: pd.DataFrame) -> bytes:
    """Horizontal bars of log loss and macro F1 per model with their bootstrap intervals."""
    fig, axes = new_figure(width=9, height=0.35 * len(table) + 1.2, ncols=2)
    names = table["model"].str.slice(0, 28).tolist()
    for ax, metric in zip(axes, ("log_loss", "macro_f1"), strict=True):
        ci = table[f"{metric} 95% CI"].str.strip("[]").str.split(", ", expand=True).astype(float)
        values = table[metric].to_numpy(dtype=float)
        err = np.abs(np.vstack([values - ci[0].to_numpy(), ci[1].to_numpy() - values]))
        colors = ["#9aa4ae" if k == "reference" else "#2f6fb0" for k in table["kind"]]
        ax.barh(names, values, xerr=err, color=colors, capsize=3)
        ax.invert_yaxis()
        ax.set_xlabel(metric.replace("_", " ") + " (95% bootstrap CI)")
    axes[1].set_yticklabels([])
    return figure_png(fig)


def confusion_figure(cm: np.ndarray, labels: list[str], *, title: str) -> bytes:
    """Confusion matrix (counts, shaded by row-normalised rate), shape (C, C): true x predicted."""
    size = 1.6 + 0.38 * len(labels)
    fig, ax = new_figure(width=size + 1, height=size)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(cm):
        if v:
            ax.text(
                j,
                i,
                str(v),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion: {title}")
    return figure_png(fig)


def reliability_curve(
    correct: np.ndarray, confidence: np.ndarray, *, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean confidence, accuracy and count per equal-width confidence bin (empty bins NaN).

    Parameters
    ----------
    correct : np.ndarray of bool, shape (n,)
        Whether the arg-max prediction is right.
    confidence : np.ndarray, shape (n,)
        Top-label probability.
    """
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(bins, weights=confidence, minlength=n_bins) / count
        acc = np.bincount(bins, weights=correct.astype(float), minlength=n_bins) / count
    return conf, acc, count


def reliability_figure(
    curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], *, title: str
) -> bytes:
    """Reliability diagram: accuracy against confidence per bin, one line per curve."""
    fig, ax = new_figure(width=4.2, height=4)
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="perfect")
    for label, (conf, acc, count) in curves.items():
        ok = count > 0
        ax.plot(conf[ok], acc[ok], marker="o", ms=4, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top-label probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return figure_png(fig)


def learning_curve_figure(history: pd.DataFrame, *, title: str) -> bytes:
    """Training loss and validation log loss per epoch (left), validation scores (right)."""
    fig, (left, right) = new_figure(width=8, height=3, ncols=2)
    epoch = history["epoch"] if "epoch" in history else np.arange(1, len(history) + 1)
    for column in ("train_loss", "val_log_loss"):
        if column in history:
            left.plot(epoch, history[column], marker=".", label=column)
    left.set_xlabel("epoch")
    left.set_ylabel("loss (nats)")
    left.legend(fontsize=8)
    scores = [c for c in ("val_accuracy", "val_macro_f1") if c in history]
    for column in scores:
        right.plot(epoch, history[column], marker=".", label=column)
    right.set_xlabel("epoch")
    right.set_ylim(0, 1)
    if scores:
        right.legend(fontsize=8)
    fig.suptitle(f"Learning curves: {title}", fontsize=10)
    return figure_png(fig)


def distribution_figure(frac: pd.DataFrame) -> bytes:
    """Grouped bars of the class fractions (rows genres, columns splits)."""
    fig, ax = new_figure(width=7.5, height=3.2)
    width = 0.8 / max(1, frac.shape[1])
    x = np.arange(len(frac))
    for i, split in enumerate(frac.columns):
        ax.bar(x + i * width, frac[split].to_numpy(), width=width, label=split)
    ax.set_xticks(x + 0.4 - width / 2, [str(g) for g in frac.index], rotation=35, ha="right")
    ax.set_ylabel("fraction of split")
    ax.set_title("Class distribution per split")
    ax.legend(fontsize=8)
    return figure_png(fig)


def smd_figure(smd: np.ndarray, threshold: float) -> bytes:
    """Standardised mean difference per feature, shape (n_features,), with the +-threshold."""
    fig, ax = new_figure(width=6.5, height=2.8)
    ax.plot(np.arange(len(smd)), smd, ".", ms=3)
    for sign in (-1, 1):
        ax.axhline(sign * threshold, color="tab:red", lw=0.8, ls="--")
    ax.set_xlabel("feature (column order)")
    ax.set_ylabel("SMD test vs training")
    ax.set_title("Train/test shift per feature")
    return figure_png(fig)
