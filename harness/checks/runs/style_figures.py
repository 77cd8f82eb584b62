"""The style map figure: a source's stored t-SNE map coloured by genre (and by year), drawn
off-screen with :func:`harness.checks.base.new_figure` and returned as PNG bytes."""

from __future__ import annotations

import numpy as np

from harness.checks.base import figure_png, new_figure

UNLABELLED_COLOUR = "#8c8c8c"
POINT_SIZE = 9


def genre_colours(genres: list[str]) -> dict[str, tuple]:
    """A distinct colour per genre, never grey (the unlabelled clips' colour): tab10 without
    its grey up to 9 genres, tab20 without its greys up to 18 (FMA has 16), then cycled."""
    from matplotlib import colormaps

    small = len(genres) <= 9
    palette = colormaps["tab10" if small else "tab20"].colors
    greys = (7,) if small else (14, 15)
    colours = [c for i, c in enumerate(palette) if i not in greys]
    return {g: colours[i % len(colours)] for i, g in enumerate(genres)}


def _genre_panel(ax, xy: np.ndarray, labels: np.ndarray) -> None:
    unlabelled = labels == ""
    genres = sorted(set(labels[~unlabelled].tolist()))
    for genre, colour in genre_colours(genres).items():
        mine = labels == genre
        ax.scatter(*xy[mine].T, s=POINT_SIZE, color=colour, label=f"{genre} ({mine.sum()})")
    if unlabelled.any():
        ax.scatter(
            *xy[unlabelled].T,
            s=POINT_SIZE + 6,
            marker="x",
            linewidths=0.8,
            color=UNLABELLED_COLOUR,
            label=f"unlabelled ({unlabelled.sum()})",
        )
    ax.legend(fontsize=7, markerscale=1.5, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("by genre", fontsize=9)


def _year_panel(fig, ax, xy: np.ndarray, years: np.ndarray) -> None:
    dated = np.isfinite(years)
    ax.scatter(
        *xy[~dated].T,
        s=POINT_SIZE + 6,
        marker="x",
        linewidths=0.8,
        color=UNLABELLED_COLOUR,
        label=f"no date ({(~dated).sum()})",
    )
    points = ax.scatter(*xy[dated].T, s=POINT_SIZE, c=years[dated], cmap="viridis")
    fig.colorbar(points, ax=ax, label="year")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("by year", fontsize=9)


def style_map_figure(
    xy: np.ndarray, labels: np.ndarray, years: np.ndarray | None, *, title: str
) -> bytes:
    """The t-SNE map of one source.

    Parameters
    ----------
    xy : np.ndarray, shape (n, 2)
        Map coordinates of every clip.
    labels : np.ndarray of str, shape (n,)
        Genre per clip, "" for an unlabelled clip (drawn as a grey cross).
    years : np.ndarray of float, shape (n,), or None
        Year per clip (NaN unknown); None draws no year panel.
    title : str
        The source's name.
    """
    ncols = 1 if years is None else 2
    fig, axes = new_figure(width=6.5 * ncols, height=4.8, ncols=ncols)
    axes = np.atleast_1d(axes)
    _genre_panel(axes[0], np.asarray(xy), np.asarray(labels).astype(str))
    if years is not None:
        _year_panel(fig, axes[1], np.asarray(xy), np.asarray(years, dtype=float))
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"Style map: {title} (t-SNE of the track embeddings)", fontsize=10)
    return figure_png(fig)
