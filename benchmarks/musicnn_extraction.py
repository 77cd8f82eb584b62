"""musicnn extraction speed: the PyTorch port against the original TensorFlow package.

Everything is measured in one run, on the same synthetic clips (30 s, 22050 Hz mono 16-bit
WAV, tones + noise, deterministic), on CPU:

- port, end to end: :func:`harness.pretrained.files.embed_files` with ``musicnn-msd`` (decode,
  resample to 16 kHz, log-mel, patches, network), after a warm-up call on one file;
- port, network only: the patches already cut, :func:`models.musicnn.weights.load_pretrained`
  run in batches of 64;
- original, batched: the MSD_musicnn graph restored once, then per file
  ``musicnn.extractor.batch_data`` (librosa at 16 kHz) and one run on all its patches (also
  its graph time alone);
- original as shipped: ``musicnn.extractor.extractor(file, model="MSD_musicnn")`` per file
  (graph rebuilt and restored on every call, batch size 1).

The original runs in a helper script (:data:`TF_SIDE`, written to the temporary folder) under
the scratch TensorFlow venv (``--tf-python``); without it only the port is measured. Printed:
one table (seconds, clips/s, patches/s), the speed ratios port / original, the largest
difference between the two sides' clip-mean taggrams (the front ends differ in float16
rounding and resampling), and the time of an :class:`baselines.probe.EmbeddingProbe` fit on a
random (640, 1506) table. Usage::

    .venv/bin/python benchmarks/musicnn_extraction.py [--clips 24] [--extractor-clips N] \
        [--tf-python tfvenv/bin/python]

Timings are wall-clock and only meaningful on an otherwise idle machine; the load average at
start and end is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

SR = 22050
SECONDS = 30.0
TF_VENV_HOWTO = """\
  python3.11 -m venv tfvenv
  tfvenv/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" librosa soundfile
  tfvenv/bin/pip install --no-deps musicnn==0.1.0
(see tools/musicnn_reference.py), then pass --tf-python tfvenv/bin/python"""

# The original's side, written to the temporary folder and run under --tf-python. It imports
# TensorFlow and the musicnn package, so it lives in this string, never in a project module.
TF_SIDE = """
import argparse, contextlib, io, json, time, warnings
from pathlib import Path

started = time.perf_counter()
import numpy as np
import tensorflow as tf
from musicnn import configuration as config
from musicnn import extractor as mx
from musicnn import models

IMPORT_SECONDS = time.perf_counter() - started
MODEL = "MSD_musicnn"
N_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1


def build():
    # the graph as musicnn.extractor.extractor builds it (tools/musicnn_reference.py's build)
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        out = models.define_model(x, is_training, MODEL, len(config.MSD_LABELS))
        taggram = tf.nn.sigmoid(out[0])
    sess = tf.compat.v1.Session()
    sess.run(tf.compat.v1.global_variables_initializer())
    prefix = str(Path(mx.__file__).resolve().parent / MODEL) + "/"
    tf.compat.v1.train.Saver().restore(sess, prefix)
    return sess, x, is_training, taggram


def batched(paths):
    t0 = time.perf_counter()
    sess, x, is_training, taggram = build()
    build_seconds = time.perf_counter() - t0

    def one(path):
        batch, _ = mx.batch_data(path, N_FRAMES, N_FRAMES)  # librosa.load at 16 kHz, float16
        g0 = time.perf_counter()
        tags = sess.run(taggram, feed_dict={x: batch.astype(np.float32), is_training: False})
        return tags, time.perf_counter() - g0

    one(paths[0])  # warm-up: librosa's first calls, TensorFlow's first run
    means, patches, graph_seconds = [], 0, 0.0
    t0 = time.perf_counter()
    for path in paths:
        tags, seconds = one(path)
        means.append(tags.mean(axis=0).tolist())
        patches += len(tags)
        graph_seconds += seconds
    total = time.perf_counter() - t0
    sess.close()
    return {"build_seconds": build_seconds, "seconds": total, "graph_seconds": graph_seconds,
            "patches": patches, "clip_mean_taggram": means}


def extractor(paths):
    # as shipped: graph rebuilt and restored on every call, batch size 1, features extracted
    means, per_file = [], []
    for path in paths:
        t0 = time.perf_counter()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            tags, _, _ = mx.extractor(path, model=MODEL)
        per_file.append(time.perf_counter() - t0)
        means.append(tags.mean(axis=0).tolist())
    return {"seconds": sum(per_file), "per_file": per_file, "clip_mean_taggram": means}


parser = argparse.ArgumentParser()
parser.add_argument("files", type=Path)
parser.add_argument("--extractor-files", type=int, default=None)
args = parser.parse_args()
paths = json.loads(args.files.read_text())
result = {
    "import_seconds": IMPORT_SECONDS,
    "versions": {"tensorflow": tf.__version__, "numpy": np.__version__},
    "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    "batched": batched(paths),
    "extractor": extractor(paths[: args.extractor_files]),
}
print(json.dumps(result))
"""


def make_clip(index: int) -> np.ndarray:
    """A deterministic 30 s clip: a chord changing every 2 s, noise hits on a beat, a bass."""
    rng = np.random.default_rng(1000 + index)
    n = int(SECONDS * SR)
    t = np.arange(n) / SR
    y = np.zeros(n)
    segment = 2 * SR
    for start in range(0, n, segment):
        tt = t[start : start + segment]
        for f0 in 110.0 * 2 ** (rng.integers(0, 36, size=3) / 12):
            for k in range(1, 5):
                y[start : start + segment] += np.sin(2 * np.pi * f0 * k * tt) / k**1.5
    beat = int(SR * 60 / rng.uniform(80, 160))
    for start in range(0, n, beat):
        length = min(int(0.15 * SR), n - start)
        decay = np.exp(-np.arange(length) / (SR * rng.uniform(0.01, 0.06)))
        y[start : start + length] += 2.0 * rng.standard_normal(length) * decay
    y += 0.8 * np.sin(2 * np.pi * rng.uniform(40, 80) * t)
    y += 0.05 * rng.standard_normal(n)
    return 0.3 * y / np.max(np.abs(y))


def make_clips(folder: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"clip{i:03d}.wav"
        sf.write(str(path), make_clip(i), SR, subtype="PCM_16")
        paths.append(path)
    return paths


def port_end_to_end(paths: list[Path], cache_dir: Path) -> dict:
    from harness.pretrained.files import embed_files

    embed_files(paths[:1], "musicnn-msd", cache_dir=cache_dir, device="cpu")  # warm-up
    started = time.perf_counter()
    files = embed_files(paths, "musicnn-msd", cache_dir=cache_dir, device="cpu")
    seconds = time.perf_counter() - started
    bad = [f.path.name for f in files if f.error]
    assert not bad, bad
    return {
        "seconds": seconds,
        "patches": sum(len(f.layers["taggram"]) for f in files),
        "clip_mean_taggram": np.stack([f.layers["taggram"].mean(axis=0) for f in files]),
    }


def port_network_only(paths: list[Path], cache_dir: Path, batch: int = 64) -> dict:
    from harness.pretrained.files import file_spectrogram
    from harness.pretrained.patches import cut_patches
    from models.musicnn.weights import load_pretrained

    patches = np.concatenate([cut_patches(file_spectrogram(p)[0]) for p in paths])
    network = load_pretrained("MSD_musicnn", cache_dir=cache_dir)
    x = torch.from_numpy(np.ascontiguousarray(patches, dtype=np.float32))
    with torch.inference_mode():
        network(x[:batch])  # warm-up
        started = time.perf_counter()
        for start in range(0, len(x), batch):
            _ = network(x[start : start + batch]).probabilities
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "patches": len(x)}


def original(paths: list[Path], folder: Path, tf_python: Path, extractor_clips) -> dict:
    listing = folder / "files.json"
    listing.write_text(json.dumps([str(p) for p in paths]))
    script = folder / "musicnn_tf_side.py"
    script.write_text(TF_SIDE)
    command = [str(tf_python), str(script), str(listing)]
    if extractor_clips is not None:
        command += ["--extractor-files", str(extractor_clips)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the TensorFlow side failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def probe_fit_seconds(rows: int = 640, val_rows: int = 160, width: int = 1506) -> float:
    from baselines.probe import EmbeddingProbe

    rng = np.random.default_rng(0)
    columns = pd.MultiIndex.from_tuples([("s", "pool", str(i)) for i in range(width)])
    X = pd.DataFrame(rng.standard_normal((rows, width)), columns=columns)
    X_val = pd.DataFrame(rng.standard_normal((val_rows, width)), columns=columns)
    y, y_val = rng.integers(0, 8, rows), rng.integers(0, 8, val_rows)
    started = time.perf_counter()
    EmbeddingProbe(candidates=[("s", "pool")]).fit(X, y, X_val, y_val)
    return time.perf_counter() - started


def row(name: str, seconds: float, clips: int, patches: int) -> str:
    return f"  {name:<46} {seconds:8.2f} {clips / seconds:8.2f} {patches / seconds:10.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=24, help="test clips (30 s each)")
    parser.add_argument(
        "--extractor-clips",
        type=int,
        default=None,
        help="clips for the as-shipped extractor() row (default: all)",
    )
    parser.add_argument(
        "--tf-python",
        type=Path,
        default=Path(os.environ.get("MUSICNN_TF_PYTHON", "tfvenv/bin/python")),
        help="Python of a venv with tensorflow-cpu and musicnn (env MUSICNN_TF_PYTHON)",
    )
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="musicnn-bench-") as tmp:
        folder = Path(tmp)
        paths = make_clips(folder, args.clips)
        port = port_end_to_end(paths, folder / "cache")
        net = port_network_only(paths, folder / "cache")
        orig = None
        if args.tf_python.exists():
            orig = original(paths, folder, args.tf_python, args.extractor_clips)
    probe_seconds = probe_fit_seconds()
    n = args.clips
    print(f"musicnn-msd extraction, {n} clips x {SECONDS:.0f} s, CPU")
    print(
        f"  torch threads {torch.get_num_threads()}, CPUs {os.cpu_count()}, "
        f"load average {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    )
    print(f"  {'':<46} {'seconds':>8} {'clips/s':>8} {'patches/s':>10}")
    print(row("port, end to end (embed_files)", port["seconds"], n, port["patches"]))
    print(row("port, network only (batches of 64)", net["seconds"], n, net["patches"]))
    if orig is None:
        print(f"original not measured: {args.tf_python} not found; build the venv with")
        print(TF_VENV_HOWTO)
    else:
        bat, ext = orig["batched"], orig["extractor"]
        n_ext = len(ext["per_file"])
        ext_patches = bat["patches"] * n_ext // n
        print(
            row("original, batched graph, end to end (librosa)", bat["seconds"], n, bat["patches"])
        )
        print(
            row("original, batched graph, graph time only", bat["graph_seconds"], n, bat["patches"])
        )
        print(
            row(
                f"original, extractor() as shipped ({n_ext} clips)",
                ext["seconds"],
                n_ext,
                ext_patches,
            )
        )
        print(
            f"  TensorFlow {orig['versions']['tensorflow']}, intra-op threads "
            f"{orig['intra_op_threads']} (0 = all cores); import {orig['import_seconds']:.1f} s, "
            f"graph build + restore {bat['build_seconds']:.2f} s (not in the rows above)"
        )
        speed = port["seconds"] / n
        print("speed ratios, port clips/s / original clips/s:")
        print(f"  end to end vs batched end to end       {bat['seconds'] / n / speed:6.2f}")
        print(f"  end to end vs extractor() as shipped   {ext['seconds'] / n_ext / speed:6.2f}")
        graph_ratio = bat["graph_seconds"] / net["seconds"]
        print(f"  network only vs graph time only        {graph_ratio:6.2f}")
        mine = port["clip_mean_taggram"]
        theirs = np.asarray(bat["clip_mean_taggram"])
        shipped = np.asarray(ext["clip_mean_taggram"])
        print("max abs difference of clip-mean taggrams (50 tags):")
        print(f"  port vs original batched               {np.max(np.abs(mine - theirs)):.2e}")
        shipped_diff = np.max(np.abs(shipped - theirs[:n_ext]))
        print(f"  original extractor() vs batched        {shipped_diff:.2e}")
    print(
        f"EmbeddingProbe(candidates=[('s', 'pool')]).fit, 640 x 1506 random, 8 classes, "
        f"160 validation rows: {probe_seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
