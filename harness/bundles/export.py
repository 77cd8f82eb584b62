"""``fma-harness export``: a run's model as a portable folder for the challenge's round 2.

Round 2 runs the team's code on new clips with no network: a container runs ``run.sh`` with
``TEST_DIRECTORY`` (the folder of clips) and ``OUTPUT_PATH`` (the submission CSV to write) in
its environment. :func:`export_bundle` writes ``DEST/bundle/`` (a verified copy of the model's
bundle) and ``DEST/run.sh``, which calls ``fma-harness predict`` in the challenge format within
a time budget (``PREDICT_BUDGET``, default 9h30m of the 10 h limit) and treats "some clips got
the prior" (exit 4, 5) as success, since the CSV is then complete and valid.

The bundle is loaded before it is copied, so a file that would not load (an estimator of
untrusted types, a pickle, a crafted weights file) is refused here, not in the container. A
format-1 bundle's pickle (``model.joblib``) is loaded only with ``trust_pickle`` and written as
a format-2 bundle (``model.skops``).
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
from pathlib import Path

from harness.bundles.bundle import (
    BUNDLE_FORMAT,
    ENSEMBLE_KIND,
    ModelBundle,
    load_bundle,
    verify_bundle,
    write_bundle,
)
from harness.bundles.ensemble import write_ensemble_bundle
from harness.bundles.estimator_file import ESTIMATOR_FILE, PICKLE_FILE, save_estimator
from harness.bundles.predict import EXIT_BUDGET, EXIT_FILES_FAILED, output_format
from harness.errors import DataError
from harness.run_layout import RunLayout

DEFAULT_BUDGET = "9h30m"  # the round's 10 h, less time to start the container and load
BUNDLE_DIR = "bundle"  # DEST/bundle/, beside DEST/run.sh

RUN_SH = """#!/bin/sh
# WWW 2018 challenge, round 2: predict every clip of $TEST_DIRECTORY into $OUTPUT_PATH
# with the model bundle beside this script (model: {name}).
# Optional: PREDICT_BUDGET (default {budget}), PREDICT_JOBS (decode workers, default 5),
# PREDICT_DEVICE (default auto), FMA_HARNESS (the command, default fma-harness).
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${{TEST_DIRECTORY:?set TEST_DIRECTORY to the folder of clips}}"
: "${{OUTPUT_PATH:?set OUTPUT_PATH to the submission CSV to write}}"
${{FMA_HARNESS:-fma-harness}} predict "$HERE/{bundle}" "$TEST_DIRECTORY" \\
    --out "$OUTPUT_PATH" --format challenge --budget "${{PREDICT_BUDGET:-{budget}}}" \\
    --n-jobs "${{PREDICT_JOBS:-5}}" --device "${{PREDICT_DEVICE:-auto}}"{trust}
rc=$?
# {failed}: some clips did not decode, {budget_rc}: the budget ran out; their rows hold the
# training prior and the submission is complete and valid.
if [ "$rc" -eq {failed} ] || [ "$rc" -eq {budget_rc} ]; then exit 0; fi
exit "$rc"
"""


def export_bundle(
    run_dir: Path,
    model: str,
    dest: Path,
    *,
    trust_types: tuple[str, ...] = (),
    trust_pickle: bool = False,
) -> Path:
    """Copy ``<run_dir>/models/<model>/bundle`` to ``dest/bundle`` and write ``dest/run.sh``.

    ``trust_types`` and ``trust_pickle``: as :func:`~harness.bundles.bundle.load_bundle`'s
    (a pickle is converted to ``model.skops``); ``run.sh`` passes the same ``--trust-type``
    options to ``predict``.

    Raises
    ------
    DataError
        No such run or model bundle, a bundle that fails verification or does not load, or
        whose classes cannot make a challenge CSV, ``dest`` not empty or its parent missing.
    """
    run_dir, dest = Path(run_dir), Path(dest)
    layout = RunLayout(run_dir)
    source = layout.model(model).bundle
    if not source.is_dir():
        models = sorted(m.name for m in layout.model_folders() if m.bundle.exists())
        known = ", ".join(models) if models else "none"
        raise DataError(
            f"{source}: no bundle of model {model!r} in this run (models with a bundle: "
            f"{known}); pass a run directory and one of its models"
        )
    spec = verify_bundle(source)
    output_format("challenge", Path("x.csv"), spec)
    if not dest.parent.is_dir():
        raise DataError(f"{dest.parent}: folder does not exist; create it first")
    if dest.exists() and not dest.is_dir():
        raise DataError(f"{dest}: exists and is not a folder; pass a new folder")
    if dest.exists() and any(dest.iterdir()):
        raise DataError(f"{dest}: exists and is not empty; pass a new folder")
    loaded = load_bundle(source, device="cpu", trust_types=trust_types, trust_pickle=trust_pickle)
    dest.mkdir(exist_ok=True)
    if holds_pickle(loaded):
        write_format_2(loaded, dest / BUNDLE_DIR)
    else:
        shutil.copytree(source, dest / BUNDLE_DIR)
    verify_bundle(dest / BUNDLE_DIR)
    script = dest / "run.sh"
    script.write_text(
        RUN_SH.format(
            name=spec["name"],
            budget=DEFAULT_BUDGET,
            bundle=BUNDLE_DIR,
            failed=EXIT_FILES_FAILED,
            budget_rc=EXIT_BUDGET,
            trust="".join(f" --trust-type {shlex.quote(t)}" for t in trust_types),
        ),
        "utf-8",
        newline="\n",
    )
    script.chmod(0o755)
    return dest


def holds_pickle(bundle: ModelBundle) -> bool:
    """Whether a loaded bundle, or a member of it, was read from a format-1 pickle."""
    if bundle.kind == ENSEMBLE_KIND:
        return any(holds_pickle(member) for member in bundle.estimator.bundles)
    return bundle.spec["weights"] == PICKLE_FILE


def write_format_2(bundle: ModelBundle, folder: Path) -> Path:
    """Write a loaded bundle to ``folder`` in this format: a feature-table estimator as
    ``model.skops``, a network's weights as they are, an ensemble's members each so."""
    spec = {**bundle.spec, "format_version": BUNDLE_FORMAT}
    if bundle.kind == ENSEMBLE_KIND:
        with tempfile.TemporaryDirectory() as tmp:
            sources = [
                write_format_2(member, Path(tmp) / str(i))
                for i, member in enumerate(bundle.estimator.bundles)
            ]
            return write_ensemble_bundle(folder, spec=spec, sources=sources)
    if spec["weights"] == PICKLE_FILE:
        spec["weights"] = ESTIMATOR_FILE
        return write_bundle(
            folder, spec=spec, save_weights=lambda path: save_estimator(bundle.estimator, path)
        )
    weights = bundle.path / bundle.spec["weights"]
    return write_bundle(folder, spec=spec, save_weights=lambda path: shutil.copyfile(weights, path))
