"""Where things live in a run folder: every file and folder name of ``runs/<run-id>/``.

The one place these names are written down; every writer and reader of a run folder goes
through :class:`RunLayout` (FMA's own dataset folder: :mod:`harness.data.layout`; the files
inside a model bundle: :mod:`harness.bundles.bundle`)::

    RUN/manifest.json                 resolved configuration, seeds, checksums, stage times
    RUN/leaderboard.csv, leaderboard.md, leaderboard_seeds.csv (--seeds)
    RUN/checks.json                   the data checks' results
    RUN/splits.csv, decode_status.csv, preparation.json
    RUN/genres_all.csv, tagging.json  multi-label runs
    RUN/report.md, report.html, report.json, figures/<check>-<i>.png
    RUN/models/<name>/                predictions_<group>.npz, history.csv, sanity.json,
                                      error.txt, model.pt or model.skops, selection.csv,
                                      bundle/
    RUN/embeddings/                   <source>.npz, <source>.skipped.json,
                                      unlabelled_neighbours.csv
    RUN/robustness.csv, robustness_failures.csv, robustness.json, robustness_error.txt
    RUN/seeds/seed<k>/models/<name>/  a further training seed's models

A model's or source's name becomes a file name with :func:`file_name` (``hf:org/model`` ->
``hf:org%2Fmodel``), read back with :func:`name_of`. :func:`run_config` reads the configuration a
run recorded in its manifest (the one reader of it for the report's checks, ``compare`` and
``review``).

``fma-harness check`` writes the checks and report part of this layout into its own folder.
The challenge submissions go beside ``runs/``, not into a run folder: :class:`SubmissionLayout`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from harness.errors import DataError


def file_name(name: str) -> str:
    """``name`` as one file name: every character but letters, digits and ``_.-~:`` written
    ``%XX`` (a path or hub id of an ``hf:`` model holds ``/``); other names are unchanged."""
    return quote(name, safe=":")


def name_of(file: str) -> str:
    """The name :func:`file_name` wrote as ``file``."""
    return unquote(file)


@dataclass(frozen=True)
class ModelFolder:
    """One model's folder in a run: ``<run>/models/<name>/``."""

    root: Path

    @property
    def name(self) -> str:
        """The model's name (the folder's, see :func:`file_name`)."""
        return name_of(self.root.name)

    def predictions(self, group: str) -> Path:
        """Keys, labels and probabilities of one group (validation, test, challenge)."""
        return self.root / f"predictions_{group}.npz"

    @property
    def history(self) -> Path:
        """A neural model's training history, one row per epoch."""
        return self.root / "history.csv"

    @property
    def sanity(self) -> Path:
        """A neural model's sanity-check results."""
        return self.root / "sanity.json"

    @property
    def error(self) -> Path:
        """The traceback of a model that failed."""
        return self.root / "error.txt"

    @property
    def torch_weights(self) -> Path:
        """A log-mel model's settings, classes and best weights."""
        return self.root / "model.pt"

    @property
    def sklearn_weights(self) -> Path:
        """A feature-table model's fitted estimator (skops, no pickle)."""
        return self.root / "model.skops"

    @property
    def selection(self) -> Path:
        """A probe's input candidates with their validation log loss, the chosen one marked."""
        return self.root / "selection.csv"

    @property
    def bundle(self) -> Path:
        """The model as a folder that predicts alone (:mod:`harness.bundles.bundle`)."""
        return self.root / "bundle"


@dataclass(frozen=True)
class RunLayout:
    """Paths inside one run folder (``runs/<run-id>/``, or a further seed's ``seeds/seed<k>/``)."""

    root: Path

    @property
    def manifest(self) -> Path:
        """Argv, resolved configuration, seeds, versions, data checksums, stage times."""
        return self.root / "manifest.json"

    @property
    def leaderboard(self) -> Path:
        """One row per model: status, scores, training time."""
        return self.root / "leaderboard.csv"

    @property
    def leaderboard_md(self) -> Path:
        """The leaderboard as a Markdown table (and a tagging run's notes)."""
        return self.root / "leaderboard.md"

    @property
    def seed_table(self) -> Path:
        """One row per model and training seed (``--seeds`` with two seeds or more)."""
        return self.root / "leaderboard_seeds.csv"

    @property
    def checks(self) -> Path:
        """The data checks' results (CheckResult dicts)."""
        return self.root / "checks.json"

    @property
    def markers(self) -> tuple[Path, ...]:
        """The files a run folder holds at least one of."""
        return (self.manifest, self.leaderboard, self.checks)

    @property
    def splits(self) -> Path:
        """track_id, split and artist_id of every labelled track."""
        return self.root / "splits.csv"

    @property
    def decode_status(self) -> Path:
        """The decode status of every clip."""
        return self.root / "decode_status.csv"

    @property
    def preparation(self) -> Path:
        """How the data was prepared: format, subset, split source, notes."""
        return self.root / "preparation.json"

    @property
    def tagging_labels(self) -> Path:
        """Multi-label runs: the multi-hot labels and the split of each track."""
        return self.root / "genres_all.csv"

    @property
    def tagging_info(self) -> Path:
        """Multi-label runs: genres kept and dropped, the genre tree, notes."""
        return self.root / "tagging.json"

    @property
    def report_md(self) -> Path:
        """The report as Markdown (its figures under :attr:`figures_dir`)."""
        return self.root / "report.md"

    @property
    def report_html(self) -> Path:
        """The report as one self-contained HTML page."""
        return self.root / "report.html"

    @property
    def report_json(self) -> Path:
        """Every result of the report with all its evidence rows."""
        return self.root / "report.json"

    @property
    def figures_dir(self) -> Path:
        """The PNG copies of the report's figures."""
        return self.root / "figures"

    def figure(self, check: str, index: int) -> Path:
        """The ``index``-th (from 1) figure of a check (``check``: its anchor)."""
        return self.figures_dir / f"{check}-{index}.png"

    @property
    def models_dir(self) -> Path:
        """One folder per model (:class:`ModelFolder`)."""
        return self.root / "models"

    def model(self, name: str) -> ModelFolder:
        """The folder of model ``name``."""
        return ModelFolder(self.models_dir / file_name(name))

    def model_folders(self) -> list[ModelFolder]:
        """Every model folder of the run, sorted by name."""
        return [ModelFolder(p) for p in sorted(self.models_dir.glob("*/"))]

    def prediction_files(self, group: str) -> list[Path]:
        """Every model's predictions of ``group`` that exist, sorted by model."""
        return sorted(self.models_dir.glob(f"*/{ModelFolder(Path()).predictions(group)}"))

    def history_files(self) -> list[Path]:
        """Every model's training history that exists, sorted by model."""
        return sorted(self.models_dir.glob(f"*/{ModelFolder(Path()).history}"))

    @property
    def embeddings_dir(self) -> Path:
        """The embeddings and t-SNE maps per source (:mod:`harness.run.embeddings`)."""
        return self.root / "embeddings"

    def embedding(self, source: str) -> Path:
        """The embeddings of one source (a neural model, or ``mfcc-140``)."""
        return self.embeddings_dir / f"{file_name(source)}.npz"

    def embedding_skipped(self, source: str) -> Path:
        """Why ``source`` has no embeddings file: ``{"reason": ...}``."""
        return self.embeddings_dir / f"{file_name(source)}.skipped.json"

    @property
    def unlabelled_neighbours(self) -> Path:
        """The nearest genres of every unlabelled clip, per source."""
        return self.embeddings_dir / "unlabelled_neighbours.csv"

    @property
    def robustness_table(self) -> Path:
        """Per model and audio change: scores on the changed and the clean clips."""
        return self.root / "robustness.csv"

    @property
    def robustness_failures(self) -> Path:
        """The (clip, change) pairs a change or a feature failed on, with the error."""
        return self.root / "robustness_failures.csv"

    @property
    def robustness_info(self) -> Path:
        """The robustness stage's mild changes, and why it skipped or failed."""
        return self.root / "robustness.json"

    @property
    def robustness_error(self) -> Path:
        """The traceback of a robustness stage that failed."""
        return self.root / "robustness_error.txt"

    @property
    def seeds_dir(self) -> Path:
        """The further training seeds' folders (``--seeds``)."""
        return self.root / "seeds"

    def seed_run(self, seed: int | str) -> RunLayout:
        """The folder of a further training seed: its own ``models/``."""
        return RunLayout(self.seeds_dir / f"seed{seed}")


#: The layout relative to a run folder, for messages: ``IN_RUN.model("<name>").error``.
IN_RUN = RunLayout(Path())


@dataclass(frozen=True)
class SubmissionLayout:
    """A submissions folder (``submissions/``, beside ``runs/``): a run's CSVs in ``<run-id>/``."""

    root: Path

    def run(self, run_id: str) -> SubmissionLayout:
        """The submissions of one run."""
        return SubmissionLayout(self.root / run_id)

    def model_csv(self, model: str) -> Path:
        """One model's challenge submission."""
        return self.root / f"{file_name(model)}.csv"

    @property
    def uniform_csv(self) -> Path:
        """``fma-harness submit --uniform``'s default output."""
        return self.root / "uniform.csv"


def run_config(run_dir: Path) -> dict:
    """The ``config`` of the run's ``manifest.json`` (empty when there is none)."""
    path = RunLayout(Path(run_dir)).manifest
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text("utf-8")).get("config", {})
    except (ValueError, AttributeError) as exc:  # truncated, or not a manifest's object
        raise DataError(
            f"{path}: not a run manifest ({type(exc).__name__}: {exc}); the run is "
            "damaged: run it again"
        ) from None
