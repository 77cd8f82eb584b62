"""``musicnn-zeroshot``: genres from the pretrained tagger's tags, with no training on audio.

Each genre of the task is mapped to some of the Million Song Dataset's top-50 tags that the
``musicnn-msd`` tagger predicts (:data:`GENRE_TAGS`, the FMA genre names; a run may give its
own table as ``[params.musicnn-zeroshot] genre_tags``). A clip's score for a genre is the
highest probability among its tags (the clip's taggram, averaged over its 3 s patches). The
training labels are used only for the prior: a genre no tag covers gets its training
frequency, and the covered genres share the rest in proportion to their scores. The harness
then calibrates the scores on validation like every model's (temperature scaling).
Multi-label: a covered genre's probability is its score, an uncovered one's its training rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from baselines.reference import TakesMultiHot

#: FMA genre -> MSD tags (the tag names of musicnn's MSD_LABELS). Genres without a fitting
#: tag (International, Spoken; Classical: the MSD top-50 has none) are left out.
GENRE_TAGS: dict[str, tuple[str, ...]] = {
    "Blues": ("blues",),
    "Country": ("country",),
    "Easy Listening": ("easy listening", "Mellow"),
    "Electronic": ("electronic", "electronica", "electro", "dance", "House"),
    "Experimental": ("experimental",),
    "Folk": ("folk", "acoustic"),
    "Hip-Hop": ("Hip-Hop",),
    "Instrumental": ("instrumental",),
    "Jazz": ("jazz",),
    "Old-Time / Historic": ("oldies", "60s"),
    "Pop": ("pop", "indie pop", "catchy"),
    "Rock": ("rock", "alternative rock", "classic rock", "hard rock", "indie rock", "punk"),
    "Soul-RnB": ("soul", "rnb", "funk"),
}
SOURCE = "musicnn-msd"


class ZeroShotTagger(TakesMultiHot, ClassifierMixin, BaseEstimator):
    """Genre probabilities from tag probabilities through a genre -> tags table.

    Parameters
    ----------
    genre_tags : dict or None
        genre -> list of tags; None: :data:`GENRE_TAGS`.
    source : str
        The pretrained source whose taggram is read.
    random_state : int
        Unused (no randomness); accepted as every factory's.

    Attributes
    ----------
    classes_ : np.ndarray
        Training labels (single-label) or genre column indices (multi-label).
    prior_ : np.ndarray, shape (C,)
        Training frequency of each class.
    class_names_ : list of str
        The genre of each class (the column names of a multi-label target).
    covered_ : dict
        genre -> the tags found for it in the taggram's columns.
    """

    def __init__(
        self, genre_tags: dict | None = None, source: str = SOURCE, random_state: int = 0
    ) -> None:
        self.genre_tags = genre_tags
        self.source = source
        self.random_state = random_state

    def required_inputs(self) -> list[tuple[str, str]]:
        """The (source, representation) pairs the input table must hold."""
        return [(self.source, "taggram")]

    def fit(
        self, X: Any, y: Any, X_val: Any = None, y_val: Any = None, genres: Any = None
    ) -> ZeroShotTagger:
        """Learn the classes, their prior and which tags cover each (``X``: taggram columns;
        ``genres``: the names of a multi-hot ``y``'s columns)."""
        y = np.asarray(y)
        self.multi_label_ = y.ndim == 2
        if self.multi_label_:
            self.classes_ = np.arange(y.shape[1])
            self.prior_ = y.astype(np.float64).mean(axis=0)
            self.class_names_ = [str(g) for g in (genres or [])]
        else:
            self.classes_, counts = np.unique(y, return_counts=True)
            self.prior_ = counts / counts.sum()
            self.class_names_ = [str(c) for c in self.classes_]
        table = GENRE_TAGS if self.genre_tags is None else self.genre_tags
        tags = set(self._taggram(X).columns)
        found = {name: [t for t in table.get(name, ()) if t in tags] for name in self.class_names_}
        self.covered_ = {name: listed for name, listed in found.items() if listed}
        return self

    def _taggram(self, X: Any):
        return X.loc[:, (self.source, "taggram")]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Genre probabilities (n, C): rows sum to 1 (single-label), or per genre (multi)."""
        taggram = self._taggram(X)
        out = np.tile(self.prior_, (len(taggram), 1))
        names = self.class_names_
        covered = [i for i, name in enumerate(names) if name in self.covered_]
        if not covered:
            return out
        scores = np.column_stack(
            [taggram[self.covered_[names[i]]].to_numpy(np.float64).max(axis=1) for i in covered]
        )
        if self.multi_label_:
            out[:, covered] = scores
            return out
        mass = self.prior_[covered].sum()
        out[:, covered] = mass * scores / np.maximum(scores.sum(axis=1, keepdims=True), 1e-12)
        return out

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def make_zeroshot(*, random_state: int = 0, **params: Any) -> ZeroShotTagger:
    """Genres from musicnn's MSD tags through a documented genre -> tags table, no training."""
    return ZeroShotTagger(random_state=random_state, **params)


make_zeroshot.consumes = "embeddings"
make_zeroshot.pretrained = ((SOURCE, "taggram"),)
