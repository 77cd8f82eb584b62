"""Does a run's time grow linearly with the data? Seconds per track and peak memory by set size.

For each size (tracks with audio), one synthetic FMA set is generated (not timed), then one
``fma-harness run`` is timed in a fresh process: feature extraction (MFCC-140 and log-mel, a
cold cache), one baseline (mfcc-logreg) and one neural model (cnn, ``--quick``: 2 epochs),
no data checks. Printed per size: wall seconds, seconds per track, peak RSS of the run's
processes, and the ratios to the smallest size (targets in brackets):

- seconds per track, largest / smallest        [<= 1.15]  linear growth
- peak RSS, largest / smallest                 [figure]   flat apart from the model

Usage::

    .venv/bin/python benchmarks/scale.py [--sizes 400,800,1600] [--duration 10] \\
        [--workdir /tmp/fma-scale] [--n-jobs -1]

Timings are wall-clock and only meaningful on an otherwise idle machine; the load average at
start and end is printed beside them. The sets are kept in ``--workdir`` for a rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Runs one command and prints its wall time and the peak RSS (MiB) of its process tree
# (ru_maxrss of the waited-for descendants: the run and its loky workers).
MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:]).returncode
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"code": code, "seconds": seconds, "peak_mib": peak}))
"""


def generate(root: Path, *, n_tracks: int, duration: float, n_jobs: int) -> None:
    """A synthetic FMA of ``n_tracks`` clips of ``duration`` s at ``root`` (kept if present)."""
    if (root / "fma_metadata" / "tracks.csv").exists():
        return
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "--quiet",
        "data",
        "synth",
        "--root",
        str(root),
        "--n-tracks",
        str(n_tracks),
        "--duration",
        str(duration),
        "--n-test",
        "8",
        "--n-jobs",
        str(n_jobs),
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def timed_run(root: Path, workdir: Path, *, n_jobs: int) -> dict:
    """One cold-cache run of mfcc-logreg and cnn (2 epochs) on ``root``, measured."""
    cache, out = workdir / "cache", workdir / "runs"
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "--quiet",
        "run",
        "--root",
        str(root),
        "--models",
        "mfcc-logreg,cnn",
        "--quick",
        "--no-checks",
        "--n-jobs",
        str(n_jobs),
        "--cache-dir",
        str(cache),
        "--out",
        str(out),
    ]
    result = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="400,800,1600")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/fma-scale"))
    parser.add_argument("--n-jobs", type=int, default=-1)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    rows = []
    for n in sizes:
        root = args.workdir / f"synth-{n}-{args.duration:g}s"
        generate(root, n_tracks=n, duration=args.duration, n_jobs=args.n_jobs)
        measured = timed_run(root, args.workdir / f"work-{n}", n_jobs=args.n_jobs)
        if measured["code"] != 0:
            raise SystemExit(f"the run on {root} exited {measured['code']}")
        rows.append({"tracks": n, **measured, "s_per_track": measured["seconds"] / n})
        per_track, peak = rows[-1]["s_per_track"], measured["peak_mib"]
        print(
            f"{n:>6} tracks: {measured['seconds']:7.1f} s, {per_track:.3f} s/track, "
            f"peak {peak:.0f} MiB",
            flush=True,
        )
    first, last = rows[0], rows[-1]
    print(
        f"seconds per track, {last['tracks']} / {first['tracks']} tracks: "
        f"{last['s_per_track'] / first['s_per_track']:.2f}  [<= 1.15]"
    )
    print(
        f"peak RSS, {last['tracks']} / {first['tracks']} tracks: "
        f"{last['peak_mib'] / first['peak_mib']:.2f}  [figure]"
    )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
