"""The FMA genre taxonomy shipped with the package (the real ``genres.csv``, CC BY 4.0).

``CHALLENGE_GENRES`` are the 16 root genres in the order of the WWW 2018 submission header
(alphabetical, spelled as in genres.csv). ``SMALL_GENRES`` are the 8 genres of fma_small and
``MEDIUM_COUNTS`` the per-genre track counts of fma_medium, used by the synthetic generator.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

CHALLENGE_GENRES: tuple[str, ...] = (
    "Blues",
    "Classical",
    "Country",
    "Easy Listening",
    "Electronic",
    "Experimental",
    "Folk",
    "Hip-Hop",
    "Instrumental",
    "International",
    "Jazz",
    "Old-Time / Historic",
    "Pop",
    "Rock",
    "Soul-RnB",
    "Spoken",
)

SMALL_GENRES: tuple[str, ...] = (
    "Electronic",
    "Experimental",
    "Folk",
    "Hip-Hop",
    "Instrumental",
    "International",
    "Pop",
    "Rock",
)

MEDIUM_COUNTS: dict[str, int] = {
    "Rock": 7103,
    "Electronic": 6314,
    "Experimental": 2251,
    "Hip-Hop": 2201,
    "Folk": 1519,
    "Instrumental": 1350,
    "Pop": 1186,
    "International": 1018,
    "Classical": 619,
    "Old-Time / Historic": 510,
    "Jazz": 384,
    "Country": 178,
    "Soul-RnB": 154,
    "Spoken": 118,
    "Blues": 74,
    "Easy Listening": 21,
}


@lru_cache(maxsize=1)
def packaged_genres() -> pd.DataFrame:
    """The real FMA genres table, indexed by ``genre_id``.

    Returns
    -------
    pd.DataFrame
        163 rows; columns ``#tracks``, ``parent``, ``title``, ``top_level``.
    """
    with resources.files("harness.data").joinpath("genres.csv").open("r", encoding="utf-8") as f:
        return pd.read_csv(f, index_col=0)


def packaged_header(name: str) -> str:
    """The rebuilt header lines of ``tracks.csv`` or ``features.csv`` as shipped (text)."""
    return resources.files("harness.data").joinpath(f"{name}_header.csv").read_text("utf-8")
