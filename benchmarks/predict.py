"""Benchmark ``fma-harness predict`` against decoding alone, on the same files.

Prints files per second of (a) decoding every file (:func:`harness.data.audio.decode`, the
floor: predict decodes each file once) and (b) the whole predict (decode, features, model,
calibration, output), and their ratio (predict time / decode time) [target <= 2.5]. Both run
with the same ``--n-jobs``; the first pass of each is a warm-up (librosa's numba kernels,
torch's start). Then the peak RSS of ``fma-harness predict`` in a fresh process on the files
once and on 4 copies of each (symbolic links) [target: 4x / 1x <= 1.1]: memory must stay flat
in the number of files.

Usage::

    .venv/bin/python benchmarks/predict.py BUNDLE FOLDER [--n-jobs 1] [--repeat 2]

e.g. a cnn bundle of a run (``runs/<id>/models/cnn/bundle``) and the run's
``crowdai_fma_test/``. Timings are wall clock: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Runs one command; prints the peak RSS (MiB) of its process tree (waited-for descendants).
PEAK_RSS = """
import json, resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(json.dumps({"code": code,
                  "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def decode_only(paths: list[Path], n_jobs: int) -> float:
    """Seconds to decode every file (native rate, mono), as predict's workers do."""
    from joblib import Parallel, delayed

    from harness.data.audio import DecodeConfig, decode

    config = DecodeConfig(min_duration=0.0)
    started = time.perf_counter()
    if n_jobs == 1:
        for path in paths:
            decode(path, config=config)
    else:
        Parallel(n_jobs=n_jobs, backend="loky")(delayed(decode)(p, config=config) for p in paths)
    return time.perf_counter() - started


def predict_all(bundle: Path, folder: Path, n_jobs: int) -> float:
    """Seconds of one full predict of ``folder`` into a fresh output file."""
    from harness.bundles.predict import predict_files

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        predict_files(
            bundle,
            [folder],
            out=Path(tmp) / "out.csv",
            fmt="csv",
            n_jobs=n_jobs,
            device="cpu",
            progress=False,
            log=lambda _: None,
        )
        return time.perf_counter() - started


def peak_rss(bundle: Path, paths: list[Path], copies: int, n_jobs: int) -> float:
    """Peak RSS (MiB) of ``fma-harness predict`` on ``copies`` links to each of ``paths``."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "audio")
        folder.mkdir()
        for k in range(copies):
            for i, path in enumerate(paths):
                Path(folder, f"{k}-{i}{path.suffix}").symlink_to(path.resolve())
        cmd = [
            sys.executable,
            "-m",
            "harness",
            "--quiet",
            "predict",
            str(bundle),
            str(folder),
            "--out",
            str(Path(tmp, "out.csv")),
            "--format",
            "csv",
            "--device",
            "cpu",
            "--n-jobs",
            str(n_jobs),
        ]
        result = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, *cmd], capture_output=True, text=True, check=True
        )
        measured = json.loads(result.stdout.strip().splitlines()[-1])
        if measured["code"] not in (0, 4):  # 4: some files failed to decode (prior rows)
            raise SystemExit(f"predict exited {measured['code']}")
        return float(measured["peak_mib"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    from harness.bundles.featurise import find_audio

    paths = find_audio([args.folder])
    print(f"{len(paths)} files, n_jobs={args.n_jobs}, load average {os.getloadavg()[0]:.2f}")
    decode_only(paths[:2], args.n_jobs)  # warm-up
    predict_all(args.bundle, args.folder, args.n_jobs)
    decode_s = min(decode_only(paths, args.n_jobs) for _ in range(args.repeat))
    predict_s = min(predict_all(args.bundle, args.folder, args.n_jobs) for _ in range(args.repeat))
    print(f"decode only : {len(paths) / decode_s:8.2f} files/s ({decode_s:.2f} s)")
    print(f"predict     : {len(paths) / predict_s:8.2f} files/s ({predict_s:.2f} s)")
    print(f"predict / decode time: {predict_s / decode_s:.2f}x  [<= 2.5]")
    one, four = (peak_rss(args.bundle, paths, k, args.n_jobs) for k in (1, 4))
    print(
        f"peak RSS: {one:.0f} MiB for {len(paths)} files, {four:.0f} MiB for {4 * len(paths)}: "
        f"{four / one:.2f}x  [<= 1.1]"
    )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
