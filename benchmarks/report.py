"""Side by side or one at a time? Rendering a run's report on this machine's cores.

A copy of a finished run directory (the newest under ``runs/`` by default) is rendered
alternately with its built-in checks one at a time (``--n-jobs 1``) and side by side in worker
processes (``--n-jobs -1``, :func:`harness.checks.registry.run_checks`), in two settings:

- ``fma-harness report`` as a whole process: its worker processes start cold and import what
  the checks need, as after a run on cached features;
- ``collect_run`` in this process after a first rendering each way: the workers are warm, as
  after a run that extracted features (joblib's pool outlives the extraction).

Prints the median seconds of each and the ratio ``one at a time / side by side`` [> 1: side by
side is faster]. Usage::

    .venv/bin/python benchmarks/report.py [RUN_DIR] [--rounds 3]

Timings are wall-clock and only meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from harness.report.markdown import collect_run
from harness.scoring.metrics.single import DegenerateInputWarning

SETTINGS = {"one at a time": 1, "side by side": -1}


def newest_run(runs: Path = Path("runs")) -> Path:
    """The most recently changed run directory under ``runs`` (one holding a manifest)."""
    found = sorted(runs.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"no run under {runs}/: run `make run` first, or pass a run directory")
    return found[-1].parent


def command_seconds(run_dir: Path, n_jobs: int) -> float:
    """Wall seconds of one ``fma-harness report RUN_DIR --n-jobs N`` process."""
    command = [sys.executable, "-m", "harness", "report", str(run_dir), "--n-jobs", str(n_jobs)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def collect_seconds(run_dir: Path, n_jobs: int) -> float:
    """Wall seconds of :func:`collect_run` in this process."""
    started = time.perf_counter()
    collect_run(run_dir, n_jobs=n_jobs)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path, help="default: the newest under runs/")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    source = args.run_dir or newest_run()
    warnings.simplefilter("ignore", DegenerateInputWarning)  # as the run's report stage does
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / source.name
        shutil.copytree(source, run_dir)
        print(f"{source} on {os.cpu_count()} cores, {args.rounds} rounds")
        for label, measure in (("whole process", command_seconds), ("warm", collect_seconds)):
            if measure is collect_seconds:
                for n_jobs in SETTINGS.values():  # imports here, worker processes started
                    measure(run_dir, n_jobs)
            seconds = {name: [] for name in SETTINGS}
            for _ in range(args.rounds):
                for name, n_jobs in SETTINGS.items():
                    seconds[name].append(measure(run_dir, n_jobs))
            medians = {name: statistics.median(values) for name, values in seconds.items()}
            figures = ", ".join(f"{name} {value:.2f} s" for name, value in medians.items())
            ratio = medians["one at a time"] / medians["side by side"]
            print(f"  {label}: {figures}; one at a time / side by side {ratio:.2f}")


if __name__ == "__main__":
    main()
