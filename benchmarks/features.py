"""Benchmark the feature pass (MFCC-140 + log-mel) on synthetic 30 s 44.1 kHz stereo mp3s.

Everything is measured in one run and printed as ratios (targets in brackets):

- full pass / decode only                      [<= 2.2]   decoding is the floor
- naive recipe / our full pass                 [>= 1.5]   two librosa.load calls per clip
- 2 workers / 1 worker throughput              [>= 1.6]   on a 2-core machine
- clips per second per core                    [figure]
- peak RSS, 4x clips / 1x clips                [<= 1.25]  each measured in a fresh subprocess
- fully cached second run / first run          [< 0.05]

Usage::

    .venv/bin/python benchmarks/features.py [--n-clips 32] [--workdir /tmp/fma-bench]

Timings are wall-clock and only meaningful on an otherwise idle machine; the load average at
start and end is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LOGMEL_SR = 22050
RSS_SCRIPT = """
import json, resource, sys
import pandas as pd
from harness.features import extract
clips = pd.read_json(sys.argv[1], orient="split")
extract(clips, cache_dir=sys.argv[2], n_jobs=1, progress=False)
print(json.dumps({"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def make_clips(workdir: Path, n_clips: int) -> pd.DataFrame:
    """Generate (once) n_clips synthetic 30 s 44.1 kHz stereo mp3s; return a clips table."""
    from harness.data.synth.generate import SynthConfig, generate

    root = workdir / f"synth-{n_clips}"
    if not (root / "synthetic_config.json").exists():
        faults = dict(empty=0, short=0, silent=0, corrupt=0, duplicate=0, near_duplicate=0)
        config = SynthConfig(
            root=root,
            n_tracks=max(n_clips, 16),
            duration=30.0,
            sr=44100,
            channels=2,
            n_test=0,
            n_multi_root=0,
            **faults,
        )
        generate(config, n_jobs=-1, progress=False)
    paths = sorted((root / "fma_small").glob("*/*.mp3"))[:n_clips]
    keys = [int(p.stem) for p in paths]
    return pd.DataFrame({"path": [str(p) for p in paths], "group": "training"}, index=keys)


def naive_pass(paths: list[str]) -> None:
    """The recipe without sharing: librosa.load twice, MFCC-140 and log-mel computed apart."""
    import librosa
    from scipy import stats

    from harness.features import LogMelConfig

    cfg = LogMelConfig()
    for path in paths:
        y, sr = librosa.load(path, sr=None, mono=True)
        stft = np.abs(librosa.stft(y, n_fft=2048, hop_length=512))
        mel = librosa.feature.melspectrogram(sr=sr, S=stft**2)
        f = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
        _ = [
            np.mean(f, 1),
            np.std(f, 1),
            stats.skew(f, axis=1),
            stats.kurtosis(f, axis=1),
            np.median(f, 1),
            np.min(f, 1),
            np.max(f, 1),
        ]
        y2, _ = librosa.load(path, sr=cfg.sr, mono=True)
        y2 = librosa.util.fix_length(y2, size=cfg.n_samples)
        S = librosa.feature.melspectrogram(
            y=y2, sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_mels=cfg.n_mels
        )
        _ = librosa.power_to_db(S, ref=1.0, top_db=cfg.top_db).astype(np.float16)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_rss(clips: pd.DataFrame, workdir: Path) -> int:
    """Peak RSS (KiB) of a fresh subprocess that extracts ``clips`` into a fresh cache."""
    spec = workdir / "rss-clips.json"
    clips.to_json(spec, orient="split")
    cache = workdir / f"rss-cache-{len(clips)}"
    shutil.rmtree(cache, ignore_errors=True)
    out = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(spec), str(cache)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["maxrss_kib"]


def run(n_clips: int, workdir: Path, rounds: int) -> dict:
    from harness.data.audio import decode
    from harness.features import extract

    clips = make_clips(workdir, n_clips)
    paths = clips["path"].tolist()

    def full(cache: str, n_jobs: int, sub=clips):
        def go():
            extract(sub, cache_dir=workdir / f"cache-{cache}", n_jobs=n_jobs, progress=False)

        return go

    def fresh(cache: str) -> None:
        shutil.rmtree(workdir / f"cache-{cache}", ignore_errors=True)

    for name in ("warm", "warm2"):
        fresh(name)
    full("warm", 1, clips.iloc[:2])()  # imports, lazy librosa modules, mel filters
    full("warm2", 2, clips.iloc[:4])()  # start the 2 loky workers (reused below)
    naive_pass(paths[:1])
    times: dict[str, list[float]] = {k: [] for k in ("decode", "full", "naive", "full2", "cached")}
    for r in range(rounds):  # interleaved, minimum kept: robust to other users' load
        fresh(f"w1-{r}")
        fresh(f"w2-{r}")
        times["decode"].append(timed(lambda: [decode(p) for p in paths]))
        times["full"].append(timed(full(f"w1-{r}", 1)))
        times["cached"].append(timed(full(f"w1-{r}", 1)))
        times["naive"].append(timed(lambda: naive_pass(paths)))
        times["full2"].append(timed(full(f"w2-{r}", 2)))
    t = {k: min(v) for k, v in times.items()}
    rss_1x = peak_rss(clips.iloc[: max(1, n_clips // 4)], workdir)
    rss_4x = peak_rss(clips, workdir)
    return {
        "n_clips": n_clips,
        "rounds": rounds,
        "seconds": t,
        "full_over_decode": t["full"] / t["decode"],
        "naive_over_full": t["naive"] / t["full"],
        "workers2_over_1_throughput": t["full"] / t["full2"],
        "clips_per_s_per_core": n_clips / t["full"],
        "rss_kib": {"1x": rss_1x, "4x": rss_4x},
        "rss_4x_over_1x": rss_4x / rss_1x,
        "cached_over_first": t["cached"] / t["full"],
    }


def report(r: dict, load: tuple) -> str:
    s = r["seconds"]
    lines = [
        f"feature benchmark: {r['n_clips']} clips, 30 s 44.1 kHz stereo mp3, MFCC-140 + log-mel, "
        f"best of {r['rounds']} interleaved rounds",
        f"  load average at start/end: {load[0]:.2f} / {load[1]:.2f} (2-core figures need ~0)",
        "  seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in s.items()),
        f"  full pass / decode only        {r['full_over_decode']:6.2f}   (target <= 2.2)",
        f"  naive recipe / full pass       {r['naive_over_full']:6.2f}   (target >= 1.5)",
        f"  2 workers / 1 worker           {r['workers2_over_1_throughput']:6.2f}   "
        "(target >= 1.6)",
        f"  clips/s per core               {r['clips_per_s_per_core']:6.2f}",
        f"  peak RSS 4x / 1x clips         {r['rss_4x_over_1x']:6.2f}   (target <= 1.25; "
        f"{r['rss_kib']['1x'] / 1024:.0f} / {r['rss_kib']['4x'] / 1024:.0f} MiB)",
        f"  cached run / first run         {r['cached_over_first']:6.3f}   (target < 0.05)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.gettempdir()) / "fma-harness-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    result = run(args.n_clips, workdir, args.rounds)
    load1 = os.getloadavg()[0]
    print(report(result, (load0, load1)))
    if args.json:
        args.json.write_text(json.dumps({**result, "load": [load0, load1]}, indent=2))


if __name__ == "__main__":
    main()
