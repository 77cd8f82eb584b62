"""Model bundles: one folder that alone suffices to predict, verified before it is trusted.

A run saves every fitted model as ``<run_dir>/models/<name>/bundle/`` (``fma-harness export``
copies it anywhere). Its files:

- ``bundle.json``: what the model is and what it expects: bundle format version, name, kind
  (``logmel``: a torch network; ``features``: a scikit-learn style estimator on MFCC-140), task,
  the task's classes and the model's own class order, how audio is decoded (native rate, mono,
  the silence threshold), the feature recipe (the :class:`~harness.features.LogMelConfig` or the
  MFCC recipe), the neural estimator's settings with its chunking and evaluation chunks, the
  fitted temperature(s), the training prior (the prediction for a clip with no signal) and the
  library versions it was made with;
- the weights: ``model.pt`` (settings, classes and ``state_dict``, read with
  ``torch.load(weights_only=True)``: no code runs from it; a multi-label network's
  ``TagRateOffset`` buffer is part of the state) or ``model.skops`` (a scikit-learn style
  estimator, built only from trusted types: :mod:`harness.bundles.estimator_file`);
- ``manifest.json``: the bundle format version and the sha256 of every other file.

An ensemble (kind ``ensemble``, :mod:`harness.bundles.ensemble`) is a bundle of bundles:
its "weights" file ``members.json`` lists each member's folder (a complete bundle under
``members/``), weight and the sha256 of the member's ``manifest.json``, so one chain of checksums
covers every file; its estimator is :class:`EnsembleMembers`.

:func:`load_bundle` refuses, with one line naming the file and what to do, a folder that is not
a bundle, a file missing or not listed, a checksum that differs (a file changed after the bundle
was written), another bundle format version, and a bundle made for another task. Checksums
catch damage, not a sender: a file that a sender made to run code is refused by its reader
(``weights_only`` torch, skops with trusted types, JSON), never run.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__
from harness.bundles.estimator_file import ESTIMATOR_FILE, PICKLE_FILE, load_estimator, load_pickle
from harness.data.audio import DecodeConfig
from harness.data.prepared import PreparedData, training_prior
from harness.errors import DataError
from harness.features.config import (
    LogMelConfig,
    library_versions,
    musicnn_logmel,
    set_logmel,
    set_spec,
)
from harness.pretrained.hf import waveform_rate
from harness.run_layout import IN_RUN, ModelFolder, RunLayout
from harness.storage import file_digest

#: Bump when a change makes older bundles unreadable (or their numbers different). 2: a
#: feature-table estimator is ``model.skops``, not a pickle.
BUNDLE_FORMAT = 2
#: Formats read: a format-1 bundle of a torch network or an ensemble of them loads as it did;
#: format 1's pickles (``model.joblib``) are refused unless the user trusts them.
READ_FORMATS = (1, BUNDLE_FORMAT)
SPEC_FILE = "bundle.json"
MANIFEST_FILE = "manifest.json"
ENSEMBLE_KIND = "ensemble"  # a bundle of bundles (see the module docstring)
MEMBERS_FILE = "members.json"  # an ensemble's "weights": its members
MEMBERS_DIR = "members"  # an ensemble's member bundles: members/<i>-<name>/
WEIGHTS = {
    "logmel": "model.pt",
    "features": ESTIMATOR_FILE,
    "embeddings": ESTIMATOR_FILE,
    ENSEMBLE_KIND: MEMBERS_FILE,
}
REEXPORT = "re-export it from its run (fma-harness export RUN_DIR --model NAME DEST)"


@dataclass
class ModelBundle:
    """A verified, loaded bundle.

    Attributes
    ----------
    path : Path
        The bundle folder.
    spec : dict
        ``bundle.json``.
    estimator : object
        The fitted estimator (a ``NeuralClassifier`` or a scikit-learn style estimator), or an
        ensemble's :class:`EnsembleMembers`.
    device : str
        Where it predicts (a neural model, or the pretrained network of an embeddings model).
    """

    path: Path
    spec: dict
    estimator: Any
    device: str = "auto"

    @property
    def kind(self) -> str:
        return self.spec["kind"]

    @property
    def task(self) -> str:
        return self.spec["task"]

    @property
    def classes(self) -> list[str]:
        return list(self.spec["classes"])

    @property
    def prior(self) -> np.ndarray:
        return np.asarray(self.spec["prior"], dtype=np.float64)

    @property
    def logmel(self) -> LogMelConfig | None:
        values = self.spec["features"].get("logmel")
        return LogMelConfig(**values) if values else None


@dataclass
class EnsembleMembers:
    """The estimator of an ensemble bundle: its loaded member bundles and their weights."""

    bundles: list[ModelBundle]
    weights: list[float]


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file."""
    return file_digest(path, "sha256")


def bundle_checksum(folder: Path) -> str:
    """What identifies a bundle: the sha256 of its ``manifest.json`` (which lists the sha256 of
    every other file; an exported copy has the same)."""
    return sha256_file(Path(folder) / MANIFEST_FILE)


def bundle_versions() -> dict[str, str]:
    """The versions a bundle records: the feature libraries', torch's, scikit-learn's, ours."""
    import sklearn
    import torch

    return {
        **library_versions(),
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "fma-harness": __version__,
        "python": platform.python_version(),
    }


def bundle_spec(
    name: str,
    *,
    kind: str,
    estimator: Any,
    data: PreparedData,
    decode: DecodeConfig | None,
    logmel: LogMelConfig | None,
    calibration: dict[str, Any],
    reference: bool,
    feature_set: str = "logmel",
) -> dict:
    """The ``bundle.json`` of a fitted model (see the module docstring); ``feature_set``: the
    spectrograms a log-mel model reads (``logmel``, or ``musicnn-mel`` for the fine-tuned
    musicnn)."""
    multi = data.task != "genre_top"
    decode = decode or DecodeConfig()
    spec: dict[str, Any] = {
        "format_version": BUNDLE_FORMAT,
        "name": name,
        "kind": kind,
        "task": data.task,
        "classes": [str(c) for c in data.classes],
        "model_classes": [str(c) for c in (data.classes if multi else estimator.classes_)],
        "reference": bool(reference),
        "decode": {
            "sr": None,
            "mono": True,
            "silence_rms": float(decode.silence_rms),
            "res_type": decode.res_type,
        },
        "calibration": calibration,
        "prior": [float(v) for v in training_prior(data)],
        "weights": WEIGHTS[kind],
        "versions": bundle_versions(),
        "trained_on": {"root": str(data.layout.root), "subset": data.subset},
    }
    if kind == "logmel":
        logmel = set_logmel(feature_set, logmel or LogMelConfig())
        spec["features"] = {"feature_set": feature_set, "logmel": logmel.to_dict()}
        spec["estimator"] = estimator.settings()
        spec["chunking"] = {
            "chunk_frames": int(estimator.chunk_frames_),
            "n_eval_chunks": int(estimator.n_eval_chunks),
            "n_mels": int(estimator.n_mels_),
        }
    elif kind == "embeddings":
        pairs = [list(pair) for pair in estimator.required_inputs()]
        mel = musicnn_logmel((logmel or LogMelConfig()).duration)
        spec["features"] = {
            "feature_set": "musicnn-mel",
            "logmel": mel.to_dict(),
            "pretrained": pairs,
        }
        rate = waveform_rate([source for source, _ in pairs])
        if rate is not None:  # an hf: source reads the waveform at its extractor's rate
            spec["features"].update(feature_set="waveform", sr=rate)
    else:
        recipe = set_spec("mfcc", logmel=LogMelConfig())["recipe"]
        spec["features"] = {"feature_set": "mfcc", "recipe": recipe}
    return spec


def calibration_of(task: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The fitted temperature(s) of a model from its validation predictions' arrays."""
    if task == "genre_top":
        return {"temperature": float(arrays["temperature"])}
    return {"temperatures": [float(t) for t in arrays["temperatures"]]}


def write_bundle(folder: Path, *, spec: dict, save_weights) -> Path:
    """Write a bundle folder: ``save_weights(path)`` writes the weights, then ``bundle.json``
    and ``manifest.json`` (sha256 of each). Written beside and renamed into place, so a crash
    never leaves a half bundle under ``folder``."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(tmp / spec["weights"])
    (tmp / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n", "utf-8")
    files = {n: sha256_file(tmp / n) for n in (SPEC_FILE, spec["weights"])}
    manifest = {"format_version": BUNDLE_FORMAT, "files": files}
    (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


def bundle_folder(path: Path | str) -> Path:
    """The bundle folder ``path`` names: the folder itself, or a model folder's ``bundle/``."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(
            f"{path}: no such bundle folder; pass <run_dir>/{IN_RUN.model('<name>').bundle} or a "
            "folder written by fma-harness export"
        )
    inner = ModelFolder(path).bundle  # path is a model's folder
    if not (path / MANIFEST_FILE).exists() and (inner / MANIFEST_FILE).exists():
        return inner
    run = RunLayout(path)
    if not (path / SPEC_FILE).exists() and run.models_dir.is_dir():  # a run's folder
        folders = run.model_folders()
        names = sorted(m.name for m in folders if (m.bundle / MANIFEST_FILE).exists())
        raise DataError(
            f"{path}: a run's folder, not a model bundle; pass one of its models, "
            f"{run.model('<name>').root} ({', '.join(names) or 'it has none with a bundle'})"
        )
    return path


def verify_bundle(path: Path | str, *, task: str | None = None) -> dict:
    """Check a bundle's files and return its ``bundle.json``.

    Raises
    ------
    DataError
        One line naming the file: missing or unlisted (incomplete), checksum mismatch
        (tampered or corrupt), another format version, or (``task`` given) another task.
    """
    folder = bundle_folder(path)
    manifest = _read_json(folder / MANIFEST_FILE, what="manifest")
    _check_version(folder / MANIFEST_FILE, manifest.get("format_version"))
    files = manifest.get("files")
    if not isinstance(files, dict) or SPEC_FILE not in files:
        raise DataError(
            f"{folder / MANIFEST_FILE}: lists no {SPEC_FILE}; the bundle is "
            f"incomplete or tampered with; {REEXPORT}"
        )
    for name, expected in files.items():
        _check_file(folder, name, expected)
    spec = _read_json(folder / SPEC_FILE, what="bundle description")
    _check_version(folder / SPEC_FILE, spec.get("format_version"))
    weights = spec.get("weights")
    if weights not in files:
        raise DataError(
            f"{folder / MANIFEST_FILE}: does not list the weights file {weights!r}; "
            f"the bundle is incomplete or tampered with; {REEXPORT}"
        )
    if task is not None and spec.get("task") != task:
        raise DataError(
            f"{folder / SPEC_FILE}: the bundle was made for task {spec.get('task')!r}, not "
            f"{task!r}; use a model trained for {task!r} (fma-harness train MODEL --task {task})"
        )
    if spec.get("kind") == ENSEMBLE_KIND:
        for member in ensemble_members(folder):
            _check_file(member.parent, MANIFEST_FILE, str(member.sha256))
            member_spec = verify_bundle(member.parent, task=spec.get("task"))
            nested = member_spec.get("kind") == ENSEMBLE_KIND
            if nested or member_spec.get("classes") != spec.get("classes"):
                raise DataError(
                    f"{member.parent}: not a member of this ensemble (another class "
                    f"list, or an ensemble itself); {REEXPORT}"
                )
    return spec


@dataclass(frozen=True)
class _Member:
    parent: Path  # the member's bundle folder
    weight: float
    sha256: str  # of its manifest.json


def ensemble_members(folder: Path) -> list[_Member]:
    """An ensemble bundle's ``members.json``: each member's folder, weight and manifest sha256
    (read, not verified: :func:`verify_bundle` checks them)."""
    path = folder / MEMBERS_FILE
    listing = _read_json(path, what="member list").get("members")
    try:
        members = [
            (Path(str(m["folder"])), float(m["weight"]), str(m["manifest_sha256"])) for m in listing
        ]
    except (TypeError, KeyError, ValueError):
        raise DataError(f"{path}: not a list of members; {REEXPORT}") from None
    inside = all(not rel.is_absolute() and ".." not in rel.parts for rel, _, _ in members)
    if len(members) < 2 or not inside:
        raise DataError(
            f"{path}: fewer than 2 members, or a member folder outside the bundle; "
            f"the bundle was tampered with; {REEXPORT}"
        )
    return [_Member(folder / rel, weight, digest) for rel, weight, digest in members]


def _check_file(folder: Path, name: str, expected: str) -> None:
    path = folder / name
    if Path(name).name != name:
        raise DataError(
            f"{folder / MANIFEST_FILE}: lists {name!r}, not a file of the bundle "
            f"folder; the manifest was tampered with; {REEXPORT}"
        )
    if not path.is_file():
        raise DataError(f"{path}: missing; the bundle is incomplete; {REEXPORT}")
    found = sha256_file(path)
    if found != expected:
        raise DataError(
            f"{path}: checksum mismatch (sha256 {found[:12]}..., manifest says {str(expected)[:12]}"
            f"...); the file changed after the bundle was written (tampered or corrupt); "
            f"{REEXPORT}"
        )


def _check_version(path: Path, version: Any) -> None:
    if version not in READ_FORMATS:
        raise DataError(
            f"{path}: bundle format version {version!r}, this fma-harness {__version__} reads "
            f"version {BUNDLE_FORMAT}; {REEXPORT} with this version, or use the fma-harness "
            "that wrote it"
        )


def _read_json(path: Path, *, what: str) -> dict:
    if not path.is_file():
        raise DataError(f"{path}: missing; the bundle is incomplete; {REEXPORT}")
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable {what} ({type(exc).__name__}); {REEXPORT}") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: not a {what} (a JSON object was expected); {REEXPORT}")
    return value


def load_bundle(
    path: Path | str,
    *,
    task: str | None = None,
    device: str = "auto",
    num_threads: int | None = None,
    trust_types: tuple[str, ...] = (),
    trust_pickle: bool = False,
) -> ModelBundle:
    """Verify a bundle (:func:`verify_bundle`) and load its estimator; nothing in its files
    runs code (see the module docstring).

    Parameters
    ----------
    path : Path or str
        The bundle folder (or a run's model folder holding ``bundle/``).
    task : str, optional
        Refuse a bundle made for another task.
    device : str
        Where a neural model predicts: "auto", "cpu", "cuda", "cuda:N".
    num_threads : int, optional
        torch threads while predicting (None leaves torch's setting alone).
    trust_types : tuple of str
        Types (``module.Type``) a ``model.skops`` may hold beyond the built-in baselines'.
    trust_pickle : bool
        Load a format-1 ``model.joblib`` (a pickle: it runs code from the file), warning.
    """
    folder = bundle_folder(path)
    spec = verify_bundle(folder, task=task)
    weights = folder / spec["weights"]
    if spec["kind"] == ENSEMBLE_KIND:
        members = ensemble_members(folder)
        estimator = EnsembleMembers(
            bundles=[
                load_bundle(
                    m.parent,
                    task=task,
                    device=device,
                    num_threads=num_threads,
                    trust_types=trust_types,
                    trust_pickle=trust_pickle,
                )
                for m in members
            ],
            weights=[m.weight for m in members],
        )
    elif spec["kind"] == "logmel":
        from harness.training.estimator import NeuralClassifier

        try:
            estimator = NeuralClassifier.load(
                weights,
                device=device,
                num_threads=num_threads,
                checkpoint_dir=None,
                ddp=False,
                progress=False,
                num_workers=0,
            )
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # tensors, not a model's
            raise DataError(
                f"{weights}: not the weights of this bundle's network ({type(exc).__name__}); "
                f"{REEXPORT}"
            ) from None
    elif weights.name == ESTIMATOR_FILE:
        estimator = load_estimator(weights, trust=trust_types)
    elif weights.name == PICKLE_FILE:
        estimator = load_pickle(weights, trust_pickle=trust_pickle)
    else:
        raise DataError(f"{weights}: not a weights file of a {spec['kind']!r} bundle; {REEXPORT}")
    return ModelBundle(path=folder, spec=spec, estimator=estimator, device=device)
