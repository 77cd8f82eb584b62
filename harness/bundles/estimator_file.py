"""A feature-table model's fitted estimator as a file that runs no code when loaded (skops).

A scikit-learn style estimator (the baselines on MFCC-140 and on pretrained embeddings, and
their one-vs-rest wrapper) is saved with ``skops.io.dump`` as ``model.skops``: a zip of JSON
and numpy arrays that names the type of every object in it. :func:`load_estimator` builds an
object only from the types skops trusts itself (numpy arrays, builtins, scikit-learn's public
estimators), :data:`TRUSTED_TYPES` (what the built-in baselines hold beyond those) and the
types the user trusts by name (``--trust-type module.Type``); a file holding any other type is
refused before anything in it is built, with one line naming the types.

A bundle of format 1 held a joblib pickle (``model.joblib``), which runs code from the file
when it is loaded: it is read only with ``trust_pickle`` (``--trust-pickle``, with a warning).

skops is imported inside the functions: ``import skops.io`` takes seconds, and only the
commands that save or load a feature-table estimator need it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness import log
from harness.errors import DataError

ESTIMATOR_FILE = "model.skops"
PICKLE_FILE = "model.joblib"  # format 1: a pickle
TRUST_TYPE_OPTION = "--trust-type"
TRUST_PICKLE_OPTION = "--trust-pickle"
#: The types the built-in baselines' fitted estimators hold that skops does not trust by
#: itself. tests/bundles/test_estimator_file.py fits every built-in baseline, single-label and
#: multi-label, and asserts that skops finds no other type in its file, so this list cannot
#: fall behind the baselines.
TRUSTED_TYPES = (
    "baselines.knn.SmoothedKNeighbors",
    "baselines.probe.EmbeddingProbe",
    "baselines.reference.ReferenceClassifier",
    "baselines.zeroshot.ZeroShotTagger",
    "harness.bundles.inputs.OneVsRestTagger",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
)


def save_estimator(estimator: Any, path: Path) -> None:
    """Write a fitted estimator to ``path`` (``model.skops``) with ``skops.io.dump``."""
    import skops.io

    skops.io.dump(estimator, path)


def _listed_types(path: Path) -> list[str]:
    """Every type the skops file names that skops does not trust by itself; one line when
    ``path`` is not a skops file (a pickle renamed, a damaged zip)."""
    import skops.io

    try:
        return list(skops.io.get_untrusted_types(file=path))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise DataError(
            f"{path}: not a skops estimator file ({type(exc).__name__}); nothing in it was "
            "loaded; re-export the bundle from its run (fma-harness export RUN_DIR --model "
            "NAME DEST)"
        ) from None


def load_estimator(path: Path, *, trust: Iterable[str] = ()) -> Any:
    """The fitted estimator of ``model.skops``, built only from trusted types.

    Parameters
    ----------
    path : Path
        A file written by :func:`save_estimator`.
    trust : iterable of str
        Further type names (``module.Type``) the user trusts (``--trust-type``).

    Raises
    ------
    DataError
        One line naming the types no one trusted and the option that trusts them, or naming
        a file that is not a skops file or does not load.
    """
    listed = _listed_types(path)  # read from the file's schema; nothing is built
    trusted = {*TRUSTED_TYPES, *trust}
    refused = sorted(t for t in listed if t not in trusted)
    if refused:
        options = " ".join(f"{TRUST_TYPE_OPTION} {t}" for t in refused)
        raise DataError(
            f"{path}: holds types that are not trusted by default: {', '.join(refused)}; "
            f"nothing in it was loaded; if you trust whoever made the bundle, pass {options}"
        )
    import skops.io

    try:  # every listed type is trusted now: by skops, by this module or by the user
        return skops.io.load(path, trusted=listed)
    except Exception as exc:  # built from trusted types only, but from another version of them
        raise DataError(
            f"{path}: cannot be loaded ({type(exc).__name__}: {_first_line(exc)}); re-export "
            "the bundle with this fma-harness"
        ) from None


def load_pickle(path: Path, *, trust_pickle: bool) -> Any:
    """A format-1 bundle's ``model.joblib``, only when the user said they trust it.

    Raises
    ------
    DataError
        One line, without ``trust_pickle``: the file is a pickle (loading it runs code from it)
        and how to re-export or, trusting its source, convert it.
    """
    if not trust_pickle:
        raise DataError(
            f"{path}: a pickle (a format-1 bundle), and loading a pickle runs code from the "
            "file; nothing was loaded; re-export the bundle from its run with this fma-harness "
            f"(fma-harness export RUN_DIR --model NAME DEST; add {TRUST_PICKLE_OPTION} to "
            "convert an old run's pickle, only if you trust whoever made it)"
        )
    log.warning(
        f"{path}: loading a pickle ({TRUST_PICKLE_OPTION}): this runs code from the file; "
        "do it only for a bundle from a source you trust"
    )
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # a pickle that does not load here (versions, missing module)
        raise DataError(
            f"{path}: cannot be loaded ({type(exc).__name__}: {_first_line(exc)})"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
