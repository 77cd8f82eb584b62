"""The ORIGINAL musicnn's side of ``benchmarks/musicnn_extraction.py`` (TensorFlow).

Not part of the project: it imports TensorFlow and the ``musicnn`` package, so it runs only
under the scratch venv's python (see ``tools/musicnn_reference.py`` for how to build it) and
must never be imported by the project or its tests. ``musicnn_extraction.py`` runs it as::

    TF_CPP_MIN_LOG_LEVEL=2 /work/scratch/tfvenv/bin/python benchmarks/_musicnn_tf_side.py \
        FILES.json [--extractor-files N]

and reads one JSON object from its last stdout line: timings and the clip-mean taggrams of

* ``batched``: the MSD_musicnn graph built and restored once (as ``musicnn.extractor.extractor``
  builds it), then per file ``musicnn.extractor.batch_data`` (librosa.load at 16 kHz, mel,
  float16, log10) and one ``sess.run`` on all of the file's patches;
* ``extractor``: ``musicnn.extractor.extractor(file, model="MSD_musicnn")`` per file, as shipped
  (graph rebuilt and restored on every call, batch size 1, features extracted).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
import warnings
from pathlib import Path

started = time.perf_counter()
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from musicnn import configuration as config  # noqa: E402
from musicnn import extractor as mx  # noqa: E402
from musicnn import models  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - started
MODEL = "MSD_musicnn"
N_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1


def build():
    """The MSD_musicnn graph, restored from the package's checkpoint (as the extractor does)."""
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


def batched(paths: list[str]) -> dict:
    t0 = time.perf_counter()
    sess, x, is_training, taggram = build()
    build_seconds = time.perf_counter() - t0

    def one(path: str) -> tuple[np.ndarray, float]:
        batch, _ = mx.batch_data(path, N_FRAMES, N_FRAMES)
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
    return {
        "build_seconds": build_seconds,
        "seconds": total,
        "graph_seconds": graph_seconds,
        "patches": patches,
        "clip_mean_taggram": means,
    }


def extractor(paths: list[str]) -> dict:
    means, per_file = [], []
    for path in paths:
        t0 = time.perf_counter()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            tags, _, _ = mx.extractor(path, model=MODEL)
        per_file.append(time.perf_counter() - t0)
        means.append(tags.mean(axis=0).tolist())
    return {"seconds": sum(per_file), "per_file": per_file, "clip_mean_taggram": means}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, help="JSON list of audio paths")
    parser.add_argument("--extractor-files", type=int, default=None)
    args = parser.parse_args()
    paths = json.loads(args.files.read_text())
    result = {
        "import_seconds": IMPORT_SECONDS,
        "versions": {"tensorflow": tf.__version__, "numpy": np.__version__},
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "batched": batched(paths),
        "extractor": extractor(paths[: args.extractor_files]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
