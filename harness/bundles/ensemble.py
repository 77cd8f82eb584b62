"""The ensemble's arithmetic and its bundle: shared by the run and by ``fma-harness predict``.

An ensemble's probabilities are the weighted mean of its members' calibrated probabilities
(:func:`mean_probabilities`); its logits are their log (:func:`ensemble_logits`), and its
temperature, applied to them as to any model's logits, is 1 (:mod:`harness.run.ensemble`
says why). The run (:mod:`harness.run.ensemble`) and ``predict`` call these same functions
on the same member probabilities, so a bundle reproduces the run's submission value for value.

An ensemble bundle is a :mod:`harness.bundles.bundle` folder of kind ``ensemble``
(:func:`write_ensemble_bundle`):

- ``bundle.json``: task, classes, decode, the ensemble's temperature, the training prior,
  versions, the members with their weights and validation log loss, and how k was chosen;
- ``members.json`` (the bundle's "weights" file): each member's folder, weight and the sha256 of
  its ``manifest.json``;
- ``members/<i>-<name>/``: a verified copy of each member's own bundle;
- ``manifest.json``: the sha256 of ``bundle.json`` and ``members.json``.

``predict`` featurises a file once per distinct feature recipe of the members
(:func:`featurise_any`; MFCC members share one, log-mel members with the same settings another):
a file decodes once per recipe, not once per member.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.bundles.bundle import (
    BUNDLE_FORMAT,
    ENSEMBLE_KIND,
    MANIFEST_FILE,
    MEMBERS_DIR,
    MEMBERS_FILE,
    bundle_versions,
    sha256_file,
    verify_bundle,
    write_bundle,
)
from harness.bundles.featurise import FeatureRecipe, FileFeatures, featurise, warm_up
from harness.data.prepared import PreparedData, training_prior
from harness.scoring.calibration import proba_to_logits


def mean_probabilities(probas: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The weighted mean of the members' probabilities.

    Parameters
    ----------
    probas : sequence of np.ndarray, each of shape (n, C)
        Each member's calibrated probabilities over the task's classes, rows aligned.
    weights : sequence of float
        One per member, summing to 1.

    Returns
    -------
    np.ndarray, shape (n, C), float64
    """
    total = np.zeros(np.shape(probas[0]), dtype=np.float64)
    for weight, proba in zip(weights, probas, strict=True):
        total = total + float(weight) * np.asarray(proba, dtype=np.float64)
    return total


def ensemble_logits(probas: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The ensemble's logits: the log of :func:`mean_probabilities` (clipped away from 0), so
    that their softmax is the mean and a temperature scales it like any model's logits."""
    return proba_to_logits(mean_probabilities(probas, weights))


def ensemble_spec(
    *,
    name: str,
    data: PreparedData,
    members: list[dict],
    member_specs: list[dict],
    temperature: float,
    selection: dict,
) -> dict:
    """The ``bundle.json`` of an ensemble (see the module docstring).

    ``members``: ``{"name", "weight", "val_log_loss"}`` per member, in ensemble order;
    ``member_specs``: their own ``bundle.json``; ``selection``: how the members and k were
    chosen.
    """
    first = member_specs[0]
    return {
        "format_version": BUNDLE_FORMAT,
        "name": name,
        "kind": ENSEMBLE_KIND,
        "task": data.task,
        "classes": [str(c) for c in data.classes],
        "model_classes": [str(c) for c in data.classes],
        "reference": False,
        "decode": first["decode"],
        "calibration": {"temperature": float(temperature)},
        "prior": [float(v) for v in training_prior(data)],
        "weights": MEMBERS_FILE,
        "features": {
            "feature_set": ENSEMBLE_KIND,
            "members": [s["features"]["feature_set"] for s in member_specs],
        },
        "members": members,
        "selection": selection,
        "versions": bundle_versions(),
        "trained_on": first.get("trained_on"),
    }


def member_folder_name(index: int, name: str) -> str:
    """``<index>-<name>``, with any character unfit for a folder name as ``_``."""
    return f"{index}-{re.sub(r'[^A-Za-z0-9._-]', '_', name)}"


def write_ensemble_bundle(folder: Path, *, spec: dict, sources: list[Path]) -> Path:
    """Write an ensemble bundle: a verified copy of each member bundle in ``sources`` (ensemble
    order, matching ``spec["members"]``) under ``members/``, ``members.json``, ``bundle.json``
    and ``manifest.json``; written beside and renamed into place
    (:func:`harness.bundles.bundle.write_bundle`)."""

    def save_members(path: Path) -> None:
        listing = []
        for index, (member, source) in enumerate(zip(spec["members"], sources, strict=True)):
            relative = f"{MEMBERS_DIR}/{member_folder_name(index + 1, member['name'])}"
            copy = Path(shutil.copytree(source, path.parent / relative))
            verify_bundle(copy)
            digest = sha256_file(copy / MANIFEST_FILE)
            weight = float(member["weight"])
            listing.append(
                {
                    "name": member["name"],
                    "folder": relative,
                    "weight": weight,
                    "manifest_sha256": digest,
                }
            )
        text = json.dumps({"format_version": BUNDLE_FORMAT, "members": listing}, indent=2)
        path.write_text(text + "\n", "utf-8")

    return write_bundle(folder, spec=spec, save_weights=save_members)


@dataclass(frozen=True)
class EnsembleRecipe:
    """How ``predict`` featurises a file for an ensemble (picklable, sent to decode workers).

    Attributes
    ----------
    recipes : tuple of FeatureRecipe
        The members' distinct recipes.
    member_recipe : tuple of int
        For each member, the index of its recipe in ``recipes``.
    """

    recipes: tuple[FeatureRecipe, ...]
    member_recipe: tuple[int, ...]


@dataclass(frozen=True)
class EnsembleFeatures:
    """One file's inputs for every member (``values[j]``: member j's :class:`FileFeatures`), or
    no values and why (as :class:`~harness.bundles.featurise.FileFeatures`)."""

    values: tuple[FileFeatures, ...] | None
    status: str
    reason: str = ""
    duration: float = 0.0


def ensemble_recipe(member_recipes: Sequence[FeatureRecipe]) -> EnsembleRecipe:
    """The :class:`EnsembleRecipe` of members with these recipes (in member order)."""
    distinct = list(dict.fromkeys(member_recipes))
    return EnsembleRecipe(tuple(distinct), tuple(distinct.index(r) for r in member_recipes))


def featurise_any(
    path: Path | str, recipe: FeatureRecipe | EnsembleRecipe
) -> FileFeatures | EnsembleFeatures:
    """:func:`~harness.bundles.featurise.featurise` for a model's recipe; for an
    ensemble's, every distinct recipe once. A file that one recipe cannot featurise (it fails
    to decode, is digital silence, or gives non-finite values) has no values for the ensemble,
    with that recipe's status and reason; never raises."""
    if not isinstance(recipe, EnsembleRecipe):
        return featurise(path, recipe)
    feats = [featurise(path, r) for r in recipe.recipes]
    for f in feats:
        if f.values is None:
            return EnsembleFeatures(None, f.status, f.reason, f.duration)
    values = tuple(feats[i] for i in recipe.member_recipe)
    return EnsembleFeatures(values, "ok", "", feats[0].duration)


def warm_up_any(recipe: FeatureRecipe | EnsembleRecipe) -> None:
    """:func:`~harness.bundles.featurise.warm_up` for each recipe."""
    for one in recipe.recipes if isinstance(recipe, EnsembleRecipe) else (recipe,):
        warm_up(one)
