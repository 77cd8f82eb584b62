"""Temperature scaling (Guo et al. 2017): one scalar T > 0 fitted on validation logits by
minimising the negative log-likelihood with L-BFGS; calibrated probabilities are
``softmax(logits / T)`` (or ``sigmoid(logits / T)`` for multi-label). T is parameterised as
``exp(log_t)`` so it stays positive. T > 1 softens an over-confident model, T < 1 sharpens an
under-confident one; the argmax, and so accuracy and macro F1, never change.

Any model can be calibrated: for a scikit-learn baseline, ``log(proba)`` serves as logits
(:func:`calibrate_proba`).

A model that ranks every validation clip right (each true class has the top logit; for
multi-label, every logit on the right side of 0) has no finite best T: the validation NLL keeps
falling as T goes to 0, so the fit would sharpen the model without bound and one test mistake
would then cost a huge log loss. T stays 1 in that case (``separable_`` is True).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from harness.errors import ParameterError

EPS = 1e-12


def _as_targets(y, *, n_classes: int, classes, task: str) -> torch.Tensor:
    if task == "multi":
        t = np.asarray(y, dtype=np.float64)
        if t.shape[1:] != (n_classes,):
            raise ParameterError(f"y has shape {t.shape}; expected (n, {n_classes}) multi-hot.")
        return torch.as_tensor(t)
    y = np.asarray(y)
    if classes is not None:
        lookup = {c: i for i, c in enumerate(classes)}
        unknown = sorted({v for v in y.tolist() if v not in lookup})
        if unknown:
            raise ParameterError(f"Labels {unknown[:5]} are not in classes {list(classes)[:20]}.")
        y = np.array([lookup[v] for v in y.tolist()])
    if y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= n_classes)):
        raise ParameterError(
            f"y must be class indices in [0, {n_classes}) or labels with classes=...; got {y[:5]}."
        )
    return torch.as_tensor(y, dtype=torch.long)


def _nll(logits: torch.Tensor, targets: torch.Tensor, *, task: str) -> torch.Tensor:
    if task == "single":
        return F.cross_entropy(logits, targets)
    return F.binary_cross_entropy_with_logits(logits, targets)


def _separable(logits: torch.Tensor, targets: torch.Tensor, *, task: str) -> bool:
    """Every row's true class strictly on top (single), or every logit on its label's side."""
    if task == "multi":
        return bool(((logits > 0) == (targets > 0.5)).all())
    true = logits.gather(1, targets[:, None]).squeeze(1)
    is_true = F.one_hot(targets, logits.shape[1]).bool()
    return bool((true > logits.masked_fill(is_true, -torch.inf).amax(dim=1)).all())


class TemperatureScaler:
    """Fit one temperature on validation logits and apply it to any logits.

    Parameters
    ----------
    task : {"single", "multi"}
        Softmax + cross-entropy, or sigmoid + binary cross-entropy.
    max_iter : int
        L-BFGS iterations.

    Attributes
    ----------
    temperature_ : float
    nll_before_, nll_after_ : float
        Validation log loss at T = 1 and at the fitted T (nats).
    separable_ : bool
        The fitting set is perfectly separated, so T was left at 1 (see the module docstring).
    """

    def __init__(self, *, task: str = "single", max_iter: int = 100) -> None:
        if task not in ("single", "multi"):
            raise ParameterError(f"Unknown task '{task}'; expected 'single' or 'multi'.")
        self.task = task
        self.max_iter = max_iter

    def fit(self, logits, y, *, classes=None) -> TemperatureScaler:
        """Fit T on ``logits`` (n, C) and ``y`` (n,) class indices, or labels with ``classes``
        (or (n, C) multi-hot for task="multi")."""
        z = torch.as_tensor(np.asarray(logits, dtype=np.float64))
        if z.ndim != 2 or len(z) == 0:
            raise ParameterError(f"logits have shape {tuple(z.shape)}; expected (n, C), n > 0.")
        t = _as_targets(y, n_classes=z.shape[1], classes=classes, task=self.task)
        if len(t) != len(z):
            raise ParameterError(f"{len(z)} logit rows but {len(t)} labels.")
        self.separable_ = _separable(z, t, task=self.task)
        if self.separable_:
            self.temperature_ = 1.0
            self.nll_before_ = self.nll_after_ = float(_nll(z, t, task=self.task))
            return self
        log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS(
            [log_t], lr=0.1, max_iter=self.max_iter, line_search_fn="strong_wolfe"
        )

        def closure():
            opt.zero_grad()
            loss = _nll(z / log_t.exp(), t, task=self.task)
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            self.temperature_ = float(log_t.exp())
            self.nll_before_ = float(_nll(z, t, task=self.task))
            self.nll_after_ = float(_nll(z / self.temperature_, t, task=self.task))
        if not np.isfinite(self.temperature_) or self.nll_after_ > self.nll_before_:
            self.temperature_, self.nll_after_ = 1.0, self.nll_before_  # never make it worse
        return self

    def transform(self, logits) -> np.ndarray:
        """Calibrated probabilities (n, C) float64 from logits (n, C)."""
        if not hasattr(self, "temperature_"):
            raise ParameterError("TemperatureScaler is not fitted; call fit() first.")
        z = torch.as_tensor(np.asarray(logits, dtype=np.float64)) / self.temperature_
        return (torch.softmax(z, dim=1) if self.task == "single" else torch.sigmoid(z)).numpy()

    def report(self) -> dict:
        """{"temperature", "raw_log_loss", "calibrated_log_loss"} on the fitting set."""
        return {
            "temperature": self.temperature_,
            "raw_log_loss": self.nll_before_,
            "calibrated_log_loss": self.nll_after_,
        }


def proba_to_logits(proba, *, task: str = "single") -> np.ndarray:
    """Logits whose softmax (sigmoid for multi) gives back ``proba`` (clipped away from 0/1)."""
    p = np.clip(np.asarray(proba, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p) if task == "single" else np.log(p) - np.log1p(-p)


def calibrate_proba(proba_val, y_val, proba_test, *, classes=None, task: str = "single"):
    """Temperature-scale any model's probabilities (e.g. a scikit-learn baseline's).

    Parameters
    ----------
    proba_val : array (n_val, C)
        Validation probabilities, columns in ``classes`` order.
    y_val : array (n_val,)
        Validation labels (class indices, or labels with ``classes``).
    proba_test : array (n_test, C)
        Probabilities to calibrate.
    classes : sequence or None
        Column order of the probabilities, when ``y_val`` holds labels.
    task : {"single", "multi"}

    Returns
    -------
    proba_test_calibrated : np.ndarray (n_test, C)
    report : dict
        {"temperature", "raw_log_loss", "calibrated_log_loss"} on the validation set.
    """
    scaler = TemperatureScaler(task=task).fit(
        proba_to_logits(proba_val, task=task), y_val, classes=classes
    )
    return scaler.transform(proba_to_logits(proba_test, task=task)), scaler.report()


# A genre gets its own temperature only with this many positive and negative validation tracks;
# on fewer the fit follows a handful of tracks (and a separable genre has no finite best T).
MIN_GENRE_TRACKS = 3


class GenreTemperatureScaler:
    """Multi-label calibration: one temperature per genre, fitted on validation logits.

    Each genre with at least ``min_tracks`` positive and ``min_tracks`` negative validation
    tracks gets its own :class:`TemperatureScaler` (task "multi", so never worse than T = 1 on
    validation); the others keep T = 1. A temperature keeps every logit's sign, so the F1 at
    probability 0.5 and every ranking metric (ROC-AUC, PR-AUC, F1 at tuned thresholds) stay the
    same: only the probabilities' meaning (log loss, reliability) changes.

    Parameters
    ----------
    min_tracks : int
        Positive and negative validation tracks a genre needs to be calibrated.
    max_iter : int
        L-BFGS iterations per genre.

    Attributes
    ----------
    temperatures_ : np.ndarray, shape (C,)
        T of each genre (1 where not fitted).
    fitted_ : np.ndarray of bool, shape (C,)
        Genres whose temperature was fitted.
    """

    def __init__(self, *, min_tracks: int = MIN_GENRE_TRACKS, max_iter: int = 100) -> None:
        self.min_tracks = min_tracks
        self.max_iter = max_iter

    def fit(self, logits, y) -> GenreTemperatureScaler:
        """Fit on ``logits`` (n, C) and the multi-hot ``y`` (n, C)."""
        z = np.asarray(logits, dtype=np.float64)
        t = np.asarray(y, dtype=np.float64)
        if z.ndim != 2 or z.shape != t.shape:
            raise ParameterError(f"logits {z.shape} and y {t.shape} must both be (n, C).")
        positives = t.sum(axis=0)
        self.fitted_ = (positives >= self.min_tracks) & (len(t) - positives >= self.min_tracks)
        self.temperatures_ = np.ones(z.shape[1])
        for c in np.flatnonzero(self.fitted_):
            scaler = TemperatureScaler(task="multi", max_iter=self.max_iter)
            self.temperatures_[c] = scaler.fit(z[:, [c]], t[:, [c]]).temperature_
        return self

    def transform(self, logits) -> np.ndarray:
        """Calibrated probabilities ``sigmoid(logits / T)``, (n, C) float64."""
        if not hasattr(self, "temperatures_"):
            raise ParameterError("GenreTemperatureScaler is not fitted; call fit() first.")
        z = np.asarray(logits, dtype=np.float64) / self.temperatures_[None, :]
        return torch.sigmoid(torch.as_tensor(z)).numpy()

    def describe(self) -> str:
        """One sentence for the leaderboard: how many genres were calibrated, or why none."""
        n, total = int(self.fitted_.sum()), len(self.fitted_)
        rule = f"fewer than {self.min_tracks} positive or negative validation tracks"
        if n == 0:
            return f"calibration skipped: every genre has {rule}"
        rest = f"; the other {total - n} have {rule} (T = 1)" if n < total else ""
        return f"per-genre temperature on {n} of {total} genres{rest}"
