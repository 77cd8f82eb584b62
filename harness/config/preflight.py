"""The checks of a run that look at the world, made once, before any work: the run folder is
free, the models are known and their settings accepted, the dataset root and the test folder
exist, the answer key fits the test folder, the output folders can be written and the device
is there. (Types, bounds and choices are the schema's: :mod:`harness.config.validation`.)"""

from __future__ import annotations

import os
from pathlib import Path

from harness.config.model_settings import check_device, check_neural_settings, check_settings
from harness.config.schema import RunConfig
from harness.data.challenge import ids_from_test_dir
from harness.data.formats import detect_format
from harness.data.label_fixes import read_label_fixes
from harness.data.layout import FmaLayout
from harness.data.prepared import default_test_dir, holds_clips
from harness.errors import HarnessError, ParameterError
from harness.pretrained.inputs import check_representations
from harness.pretrained.sources import CHECKER, check_installed, get_source
from harness.registry import (
    ModelEntry,
    load_target,
    pretrained_inputs,
    spectrogram_set,
)
from harness.scoring.submission.score import read_answers


def preflight(config: RunConfig) -> None:
    """Every check of ``config`` against the world, in order; the first problem is one line."""
    check_run_folder(config)
    check_model_names(config)
    check_model_kinds(config)
    check_folders(config)
    check_answers(config)
    if config.label_fixes is not None:  # its rows are checked against the data when it loads
        read_label_fixes(config.label_fixes)
    check_device(config.device)
    check_pretrained(config)
    check_model_settings(config)


def check_model_names(config: RunConfig) -> None:
    """Every model of ``--models`` and of ``[params.NAME]`` is one the registry knows."""
    for name in config.models:
        model_entry(config, "--models", name)
    for name in config.params:
        model_entry(config, f"[params.{name}]", name)


def check_model_settings(config: RunConfig) -> None:
    """Every ``[params.NAME]`` table holds settings its model takes, with values it can build."""
    for name, params in config.params.items():
        entry = config.entry(name)
        check_settings(entry, params)
        if entry.is_neural:
            check_neural_settings(entry, params, preset=config.training_preset)


def model_entry(config: RunConfig, option: str, name: str) -> ModelEntry:
    """The registry entry of ``name``; an unknown name fails naming the option it came from."""
    try:
        return config.entry(name)
    except ParameterError as exc:
        raise ParameterError(f"{option}: {exc}") from None


def check_run_folder(config: RunConfig) -> None:
    """No earlier run's folder has ``--run-id``: a rerun into it would mix that run's models,
    seeds and report with this one's."""
    if config.run_id is None:
        return
    folder = Path(config.out) / config.run_id
    if folder.is_dir() and any(folder.iterdir()):
        raise ParameterError(
            f"--run-id {config.run_id}: {folder} already holds a run; pass another --run-id, "
            "or delete that folder to run again under this name"
        )


def check_model_kinds(config: RunConfig) -> None:
    """Official features feed no neural model; ``--ddp`` trains neural models only."""
    neural = [m for m in config.models if config.entry(m).is_neural]
    if config.features == "official" and neural:
        raise ParameterError(
            "neural models need audio (log-mel); drop them from --models or use --features audio"
        )
    if config.ddp and len(neural) != len(config.models):
        baselines = sorted(set(config.models) - set(neural))
        raise ParameterError(
            f"--ddp trains neural models only; drop {', '.join(baselines)} from --models"
        )


def check_pretrained(config: RunConfig) -> None:
    """What the pretrained models read: known sources and layers, audio to embed, and the
    musicnn checkpoints installed and unaltered (one line saying what to install)."""
    pairs = [
        p for m in config.models for p in pretrained_inputs(config.entry(m), config.params.get(m))
    ]
    finetuned = [m for m in config.models if spectrogram_set(config.entry(m)) == "musicnn-mel"]
    if not pairs and not finetuned:
        return
    if config.features == "official":
        raise ParameterError(
            "pretrained models need audio (the musicnn spectrograms); drop them from --models "
            "or use --features audio"
        )
    check_representations(pairs)
    for source in dict.fromkeys(source for source, _ in pairs):
        check_installed(get_source(source))
    for name in finetuned:
        load_target(CHECKER)(config.params.get(name, {}).get("checkpoint", "MSD_musicnn"))


def check_folders(config: RunConfig) -> None:
    """The dataset root and the test folder exist; every output folder can be written."""
    check_root(config.root, config.format)
    other_format = config.root is not None and (
        detect_format(Path(config.root), format=config.format) != "fma"
    )
    if config.test_dir is not None and other_format:
        raise ParameterError(
            f"--test-dir {config.test_dir}: a challenge test folder belongs to an FMA root, and "
            f"--root {config.root} is not one; leave --test-dir out (the test split is scored)"
        )
    if config.test_dir is not None and not holds_clips(Path(config.test_dir)):
        what = "holds no .mp3 clips" if Path(config.test_dir).is_dir() else "does not exist"
        raise ParameterError(
            f"--test-dir {config.test_dir}: the folder {what}; expected a challenge test "
            "folder of <file_id>.mp3 clips (such as ROOT/crowdai_fma_test); fix the path or "
            "leave --test-dir out"
        )
    for option, folder in (
        ("--out", config.out),
        ("--cache-dir", config.cache_dir),
        ("submissions_dir", config.submissions_dir),
    ):
        check_writable(option, Path(folder))


def check_root(root: Path | None, format: str | None) -> None:
    """``root`` is a dataset in one of the formats (``format`` when given); None (the
    synthetic set) passes unless ``format`` names another format than FMA."""
    if root is None:
        if format not in (None, "fma"):
            raise ParameterError(
                f"--format {format}: no --root given (the default synthetic set is an FMA "
                "root); pass --root, or leave --format out"
            )
        return
    try:
        found = detect_format(Path(root), format=format)
    except HarnessError as exc:
        why = str(exc).removeprefix(f"{root}: ")
        raise ParameterError(f"--root {root}: {why}") from None
    if found == "fma" and not FmaLayout(Path(root)).tracks_csv.is_file():
        raise ParameterError(
            f"--root {root}: no fma_metadata/tracks.csv there; expected an FMA root "
            "(unzip fma_metadata.zip into it, or `fma-harness data synth --root DIR`), or "
            "leave --root out for the synthetic set"
        )


def check_writable(option: str, folder: Path) -> None:
    """``folder`` exists as a writable folder, or can be created (nothing is created here)."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(
            f"{option} {folder}: {existing} is a file, not a folder; expected a folder to "
            "write into; choose another path"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(
            f"{option} {folder}: {existing} is not writable; expected a folder this user can "
            "write into; choose another path or fix its permissions"
        )


def check_answers(config: RunConfig) -> None:
    """The answer key can be read and lists exactly the clips of the test folder (when known)."""
    if config.answers is None:
        return
    try:
        answers = read_answers(config.answers)
    except HarnessError as exc:
        raise ParameterError(
            f"--answers {config.answers}: {exc}; expected a CSV file_id,genre"
        ) from None
    test_dir = config.test_dir
    if test_dir is None and config.root is not None:
        test_dir = default_test_dir(Path(config.root))
    if test_dir is None:
        return
    clips = set(ids_from_test_dir(test_dir))
    missing, extra = len(clips - set(answers)), len(set(answers) - clips)
    if missing or extra:
        raise ParameterError(
            f"--answers {config.answers}: does not match the {len(clips)} clips of {test_dir} "
            f"({missing} clips without an answer, {extra} answers without a clip); expected "
            "the answer key of that folder: pass the right --answers or --test-dir"
        )
