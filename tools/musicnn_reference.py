"""Write the reference fixture of the ORIGINAL musicnn package's outputs (TensorFlow).

Output: ``tests/fixtures/musicnn/reference.npz`` and ``reference.json`` (what a PyTorch port of
musicnn is tested against, max abs difference <= 1e-4). This script is NOT part of the project:
it imports TensorFlow and the ``musicnn`` wheel, neither of which is (or may become) a project
dependency. Run it ONLY inside the scratch venv, from the repository root::

    python3.11 -m venv /work/scratch/tfvenv
    /work/scratch/tfvenv/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" librosa soundfile
    /work/scratch/tfvenv/bin/pip install --no-deps \
        /work/scratch/musicnn_wheel/musicnn-0.1.0-py3-none-any.whl
    TF_CPP_MIN_LOG_LEVEL=2 /work/scratch/tfvenv/bin/python tools/musicnn_reference.py

Versions used for the committed fixture: Python 3.11.7, tensorflow-cpu 2.15.1 (Keras 2.15.0),
numpy 1.26.4, librosa 0.11.0, soundfile 0.14.0, scipy 1.17.1, musicnn 0.1.0 (checkpoint
sha256 in reference.json).

What it does (details in reference.json):

* three deterministic 6.5 s clips at 16 kHz (2 patches of 187 frames each), quantised to int16;
  from then on the audio is int16 / 32768 (what librosa.load gives for the 16-bit wav);
* the original front end, ``musicnn.extractor.batch_data`` on a wav of each clip, checked equal
  to the same formula computed here;
* for MSD_musicnn, MTT_musicnn, MSD_vgg, MTT_vgg: the graph built as
  ``musicnn.extractor.extractor`` builds it, all patches in one batch, plus a batch-size-1 run
  (what the extractor does) compared against it;
* ``musicnn.extractor.extractor`` end to end on clip (a) against the graph-level taggram;
* the float16 question on a loud clip (see ``loud_study``).

numpy note, found while writing this: under numpy 1.x (the only numpy TensorFlow 2.15 runs
with, and the numpy of musicnn's time) ``10000 * audio_rep`` with ``audio_rep`` float16 is
FLOAT32 (legacy value-based casting: the Python int 10000 counts as uint16, and
float16 x uint16 -> float32). So the original's patches are float32 (log10 of the
float16-quantised mel), and nothing overflows. Under numpy 2 (NEP 50, Python ints are "weak")
the same line stays float16 and overflows to inf above mel power 6.55; that variant is computed
here with ``np._set_promotion_state("weak")`` for comparison only.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import tensorflow as tf
from musicnn import configuration as config  # noqa: E402  (import order as the package's own)
from musicnn import extractor as mx
from musicnn import models

SR = 16000
N_FRAMES = 187
CLIP_SECONDS = 6.5
LOUD_SECONDS = 3.5
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
MUSICNN_LAYERS = ("mean_pool", "max_pool", "penultimate")
VGG_LAYERS = ("pool5",)
# largest mel power allowed in the three test clips: 10000 * it stays below the float16
# maximum (65504), so even float16 arithmetic (numpy 2) would not overflow on them
MEL_LIMIT = 6.0
TARGET_PEAK = 0.5
ROOT = Path(__file__).resolve().parents[1]
PKG_DIR = Path(mx.__file__).resolve().parent


# ---------------------------------------------------------------- clips


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(round(seconds * SR)), dtype=np.float64) / SR


def clip_chord() -> np.ndarray:
    """(a) A major triad (220, 277.18, 329.63 Hz), 5 harmonics each, slow amplitude envelope."""
    t = _t(CLIP_SECONDS)
    y = np.zeros_like(t)
    for f0 in (220.0, 277.1826, 329.6276):
        for k in range(1, 6):
            y += np.sin(2 * np.pi * f0 * k * t + 0.3 * k) / k
    env = (0.55 + 0.45 * np.sin(2 * np.pi * 0.23 * t - np.pi / 2)) * np.minimum(1.0, t / 0.3)
    env *= np.minimum(1.0, (t[-1] - t) / 0.3)
    return y * env


def clip_drums() -> np.ndarray:
    """(b) decaying noise bursts at 120 bpm (kick / hat / snare pattern) plus a 55 Hz bass tone."""
    rng = np.random.default_rng(20240611)
    t = _t(CLIP_SECONDS)
    n = t.size
    y = np.zeros(n)
    step = int(0.25 * SR)
    for i, start in enumerate(range(0, n, step)):
        length = min(int(0.2 * SR), n - start)
        tt = np.arange(length) / SR
        noise = rng.standard_normal(length)
        kind = i % 4
        if kind == 0:  # kick: low-passed noise + falling pitch
            lp = np.convolve(noise, np.ones(32) / 32, mode="same")
            burst = 3.0 * lp + np.sin(2 * np.pi * (120 - 200 * tt) * tt)
            burst *= np.exp(-tt / 0.06)
        elif kind == 2:  # snare: broadband
            burst = 0.8 * noise * np.exp(-tt / 0.05)
        else:  # hat: high-passed noise, short
            burst = 0.4 * np.diff(noise, prepend=0.0) * np.exp(-tt / 0.015)
        y[start : start + length] += burst
    y += 0.35 * np.sin(2 * np.pi * 55.0 * t) * (0.6 + 0.4 * np.cos(2 * np.pi * 0.5 * t))
    return y


def clip_sweep() -> np.ndarray:
    """(c) exponential sweep 150 Hz -> 5 kHz with 5.5 Hz vibrato (+-2%), plus a little noise."""
    rng = np.random.default_rng(7)
    t = _t(CLIP_SECONDS)
    f_inst = 150.0 * (5000.0 / 150.0) ** (t / CLIP_SECONDS)
    f_inst *= 1.0 + 0.02 * np.sin(2 * np.pi * 5.5 * t)
    phase = 2 * np.pi * np.cumsum(f_inst) / SR
    y = np.sin(phase) + 0.3 * np.sin(2 * phase)
    return y + 0.05 * rng.standard_normal(t.size)


def clip_loud() -> np.ndarray:
    """Loud clip: full-scale (peak 0.99) mix of sines at 110, 440, 1000, 2500 Hz, 3.5 s."""
    t = _t(LOUD_SECONDS)
    y = sum(np.sin(2 * np.pi * f * t + i) for i, f in enumerate((110.0, 440.0, 1000.0, 2500.0)))
    return 0.99 * y / np.max(np.abs(y))


def to_int16(y: np.ndarray) -> np.ndarray:
    return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)


def as_float(a16: np.ndarray) -> np.ndarray:
    return a16.astype(np.float32) / np.float32(32768.0)


def mel_power(y: np.ndarray) -> np.ndarray:
    """Exactly the original's librosa call, (frames, 96) float32."""
    return librosa.feature.melspectrogram(
        y=y, sr=SR, hop_length=config.FFT_HOP, n_fft=config.FFT_SIZE, n_mels=config.N_MELS
    ).T


def leveled(y: np.ndarray) -> tuple[np.ndarray, dict]:
    """Scale to peak TARGET_PEAK, then down further until the largest mel power <= MEL_LIMIT."""
    gain = TARGET_PEAK / np.max(np.abs(y))
    for _ in range(20):
        a16 = to_int16(y * gain)
        peak_mel = float(mel_power(as_float(a16)).max())
        if peak_mel <= MEL_LIMIT:
            break
        gain *= np.sqrt(MEL_LIMIT / peak_mel) * 0.98
    else:
        raise RuntimeError("could not level clip")
    return a16, {
        "gain": float(gain),
        "peak": float(np.max(np.abs(as_float(a16)))),
        "max_mel_power": peak_mel,
        "max_10000_mel_f16": float(10000 * np.float32(np.float16(peak_mel))),
    }


# ---------------------------------------------------------------- front end


def front_end_numpy1(y: np.ndarray) -> np.ndarray:
    """The original's formula, written out with the dtypes numpy 1.x gives it."""
    rep = mel_power(y).astype(np.float16)
    return np.log10(np.float32(10000) * rep.astype(np.float32) + np.float32(1))


def front_end_numpy2(y: np.ndarray) -> np.ndarray:
    """The same line under numpy 2 promotion (NEP 50): float16 throughout, may overflow."""
    rep = mel_power(y).astype(np.float16)
    old = np._get_promotion_state()
    np._set_promotion_state("weak")
    try:
        with np.errstate(over="ignore"):
            out = np.log10(10000 * rep + 1)
    finally:
        np._set_promotion_state(old)
    assert out.dtype == np.float16
    emu = np.log10(np.float16(10000) * rep + np.float16(1))  # same thing without the switch
    assert np.array_equal(out, emu, equal_nan=True)
    return out


def patches_of(rep: np.ndarray) -> np.ndarray:
    starts = range(0, rep.shape[0] - N_FRAMES + 1, N_FRAMES)
    return np.stack([rep[s : s + N_FRAMES] for s in starts])


def write_wav(path: Path, a16: np.ndarray) -> None:
    sf.write(str(path), a16, SR, subtype="PCM_16")
    back, sr = librosa.load(str(path), sr=config.SR)
    assert sr == SR and np.array_equal(back, as_float(a16)), "wav round trip not exact"


# ---------------------------------------------------------------- graph


def build(model: str):
    """The graph as musicnn.extractor.extractor builds it (but restore must succeed)."""
    num_classes = len(config.MTT_LABELS if "MTT" in model else config.MSD_LABELS)
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        out = models.define_model(x, is_training, model, num_classes)
        y = out[0]
        normalized_y = tf.nn.sigmoid(y)
    if "vgg" in model:
        names = ("pool1", "pool2", "pool3", "pool4", "pool5")
    else:
        names = (
            "timbral",
            "temporal",
            "cnn1",
            "cnn2",
            "cnn3",
            "mean_pool",
            "max_pool",
            "penultimate",
        )
    fetch = {"taggram": normalized_y, "logits": y, **dict(zip(names, out[1:], strict=True))}
    sess = tf.compat.v1.Session()
    sess.run(tf.compat.v1.global_variables_initializer())
    prefix = str(PKG_DIR / model) + "/"
    tf.compat.v1.train.Saver().restore(sess, prefix)  # extractor wraps this in a bare try/except
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    gvars = tf.compat.v1.global_variables()
    for v, val in zip(
        gvars, sess.run(gvars), strict=True
    ):  # every graph variable really came from the file
        assert np.array_equal(val, reader.get_tensor(v.op.name)), v.op.name
    return sess, x, is_training, fetch, len(gvars)


def run(sess, x, is_training, fetch, batch: np.ndarray) -> dict:
    return sess.run(fetch, feed_dict={x: batch, is_training: False})


def flat(layer: str, a: np.ndarray) -> np.ndarray:
    # pool5 is (n, 2, 1, 128) NHWC = (patch, time, mel, channel); C-order reshape to (n, 256)
    # is tf.compat.v1.layers.flatten's order, i.e. the vector the output dense layer reads
    return a.reshape(a.shape[0], -1).astype(np.float32)


def maxdiff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def nonfinite(a: np.ndarray) -> dict:
    return {"nan": int(np.isnan(a).sum()), "inf": int(np.isinf(a).sum()), "size": int(a.size)}


# ---------------------------------------------------------------- main


def onednn_off_rerun(args) -> dict:
    """Run this script again with TF_ENABLE_ONEDNN_OPTS=0 and compare every array."""
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
        subprocess.run(
            [sys.executable, __file__, "--out", d, "--no-rerun"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        other = np.load(Path(d) / "reference.npz", allow_pickle=False)
        mine = np.load(args.out / "reference.npz", allow_pickle=False)
        meta = json.loads((Path(d) / "reference.json").read_text())
        diffs = {k: maxdiff(mine[k], other[k]) for k in mine.files}
    return {
        "max_abs_diff_per_key": diffs,
        "loud_numpy2_variant_taggram_nonfinite": meta["loud_study"]["numpy2_float16_variant"][
            "MSD_musicnn_nonfinite"
        ]["taggram"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "musicnn")
    ap.add_argument(
        "--no-rerun", action="store_true", help="skip the TF_ENABLE_ONEDNN_OPTS=0 rerun"
    )
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="musicnn_ref_"))

    # clips
    clips, levels = [], {}
    for name, fn in (("a_chord", clip_chord), ("b_drums", clip_drums), ("c_sweep", clip_sweep)):
        a16, lv = leveled(fn())
        clips.append(a16)
        levels[name] = lv
    audio = np.stack(clips)
    assert audio.shape == (3, int(CLIP_SECONDS * SR))

    # front end: the package's batch_data on wav files vs the formula here
    n_frames = (
        librosa.time_to_frames(3, sr=config.SR, n_fft=config.FFT_SIZE, hop_length=config.FFT_HOP)
        + 1
    )
    assert n_frames == N_FRAMES
    patch_list, clip_ids, fe_checks, np2_diff = [], [], {}, []
    wavs = []
    for i, a16 in enumerate(audio):
        wav = tmp / f"clip{i}.wav"
        write_wav(wav, a16)
        wavs.append(wav)
        batch, rep = mx.batch_data(str(wav), N_FRAMES, N_FRAMES)
        mine = patches_of(front_end_numpy1(as_float(a16)))
        np2 = patches_of(front_end_numpy2(as_float(a16)))
        assert np.isfinite(np2).all(), "a test clip overflows float16 arithmetic"
        fe_checks[f"clip{i}"] = {
            "batch_data_dtype": str(batch.dtype),
            "spectrogram_frames": int(rep.shape[0]),
            "n_patches": int(batch.shape[0]),
            "batch_data_equals_formula": bool(np.array_equal(batch, mine)),
            "max_abs_diff_numpy2_float16_front_end": maxdiff(batch, np2),
        }
        assert np.array_equal(batch, mine), "batch_data differs from the formula"
        np2_diff.append(np2)
        patch_list.append(batch)
        clip_ids += [i] * batch.shape[0]
    patches = np.concatenate(patch_list).astype(np.float32)
    patches_np2 = np.concatenate(np2_diff)
    patch_clip = np.asarray(clip_ids, dtype=np.int64)
    assert patches.shape == (6, N_FRAMES, 96)

    # loud clip
    loud = to_int16(clip_loud())
    loud_wav = tmp / "loud.wav"
    write_wav(loud_wav, loud)
    loud_batch, loud_rep = mx.batch_data(str(loud_wav), N_FRAMES, N_FRAMES)
    assert np.array_equal(loud_batch, patches_of(front_end_numpy1(as_float(loud))))
    loud_mel = mel_power(as_float(loud))
    loud_np2_rep = front_end_numpy2(as_float(loud))
    loud_np2 = patches_of(loud_np2_rep)
    loud_inf_bins = int(np.isinf(loud_rep).sum())  # the original (numpy 1.x): full spectrogram

    out: dict = {
        "audio": audio,
        "sample_rate": np.int64(SR),
        "patches": patches,
        "patch_clip": patch_clip,
        "loud_audio": loud,
        "loud_inf_bins": np.int64(loud_inf_bins),
    }
    raw_shapes, batch1, model_info = {}, {}, {}
    np2_effect = {}
    for model in MODELS:
        sess, x, is_tr, fetch, n_vars = build(model)
        res = run(sess, x, is_tr, fetch, patches)
        raw_shapes[model] = {k: list(v.shape) for k, v in res.items()}
        layers = VGG_LAYERS if "vgg" in model else MUSICNN_LAYERS
        out[f"{model}__taggram"] = res["taggram"].astype(np.float32)
        out[f"{model}__logits"] = res["logits"].astype(np.float32)
        for layer in layers:
            out[f"{model}__{layer}"] = flat(layer, res[layer])
        # batch size 1 per patch, as the extractor runs it (config.BATCH_SIZE == 1)
        assert config.BATCH_SIZE == 1
        diffs = {}
        for k in ("taggram", "logits", *layers):
            one = np.concatenate(
                [
                    run(sess, x, is_tr, {k: fetch[k]}, patches[j : j + 1])[k]
                    for j in range(len(patches))
                ]
            )
            diffs[k] = maxdiff(one, res[k])
        batch1[model] = diffs
        # what float16 (numpy 2) front-end arithmetic would change in the outputs
        r2 = run(sess, x, is_tr, fetch, patches_np2.astype(np.float32))
        np2_effect[model] = {k: maxdiff(r2[k], res[k]) for k in ("taggram", "logits", *layers)}
        model_info[model] = {"graph_global_variables_restored": n_vars}
        if model == "MSD_musicnn":
            loud_res = run(sess, x, is_tr, fetch, loud_batch)
            loud2_res = run(sess, x, is_tr, fetch, loud_np2.astype(np.float32))
            # the same, with every BiasAdd also fetched: that stops grappler / oneDNN from fusing
            # Conv2D+BiasAdd+Relu, and the fused oneDNN ReLU is what turns NaN into 0
            bias_adds = [
                o.outputs[0]
                for o in tf.compat.v1.get_default_graph().get_operations()
                if o.type == "BiasAdd"
            ]
            unfused = sess.run(
                [fetch["taggram"], fetch["penultimate"], *bias_adds],
                feed_dict={x: loud_np2.astype(np.float32), is_tr: False},
            )
            out["MSD_musicnn__loud_taggram"] = loud_res["taggram"].astype(np.float32)
        sess.close()

    # end to end: the package's own extractor on clip (a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tg, labels, feats = mx.extractor(str(wavs[0]), model="MSD_musicnn", extract_features=True)
        tg_loud, _, _ = mx.extractor(str(loud_wav), model="MSD_musicnn", extract_features=True)
    a_rows = patch_clip == 0
    e2e = {
        "taggram_shape": list(tg.shape),
        "taggram_max_abs_diff": maxdiff(tg, out["MSD_musicnn__taggram"][a_rows]),
        "mean_pool_max_abs_diff": maxdiff(
            feats["mean_pool"], out["MSD_musicnn__mean_pool"][a_rows]
        ),
        "max_pool_max_abs_diff": maxdiff(feats["max_pool"], out["MSD_musicnn__max_pool"][a_rows]),
        # penultimate: same bug as cnn1..3 below (it unpacks backend_, concatenates penultimate_)
        "penultimate_first_patch_max_abs_diff": maxdiff(
            feats["penultimate"][0], out["MSD_musicnn__penultimate"][a_rows][0]
        ),
        "penultimate_all_patches_max_abs_diff": maxdiff(
            feats["penultimate"], out["MSD_musicnn__penultimate"][a_rows]
        ),
        "extractor_penultimate_second_patch_repeats_first": bool(
            np.array_equal(feats["penultimate"][0], feats["penultimate"][1])
        ),
        "labels_equal_config_MSD_LABELS": labels == config.MSD_LABELS,
        "loud_clip_taggram_max_abs_diff": maxdiff(tg_loud, out["MSD_musicnn__loud_taggram"]),
        "extractor_feature_shapes": {k: list(np.shape(v)) for k, v in feats.items()},
        # the extractor's loop over batches 2.. concatenates the FIRST batch's cnn1/cnn2/cnn3
        # again (it unpacks into midend1_.. but concatenates cnn1_..)
        "extractor_cnn1_second_patch_repeats_first": bool(
            np.array_equal(feats["cnn1"][:N_FRAMES], feats["cnn1"][N_FRAMES : 2 * N_FRAMES])
        ),
    }
    assert e2e["taggram_max_abs_diff"] <= 1e-6, e2e

    # loud study
    rep16 = loud_mel.astype(np.float16)
    loud_study = {
        "clip": "sines 110, 440, 1000, 2500 Hz, peak 0.99, 3.5 s, int16",
        "frames": int(loud_mel.shape[0]),
        "n_patches": int(loud_batch.shape[0]),
        "max_mel_power": float(loud_mel.max()),
        "mel_bins_over_6.5504_(10000x_overflows_float16)": int(
            (rep16.astype(np.float32) * 10000 > 65504).sum()
        ),
        "float16_cast_of_mel_itself_overflows": bool(np.isinf(rep16).any()),
        "numpy1_original": {
            "front_end_dtype": str(loud_rep.dtype),
            "inf_bins_full_spectrogram": loud_inf_bins,
            "inf_bins_in_patches": int(np.isinf(loud_batch).sum()),
            "max_patch_value": float(loud_batch.max()),
            "MSD_musicnn_nonfinite": {k: nonfinite(v) for k, v in loud_res.items()},
        },
        "numpy2_float16_variant": {
            "front_end_dtype": str(loud_np2_rep.dtype),
            "inf_bins_full_spectrogram": int(np.isinf(loud_np2_rep).sum()),
            "inf_bins_in_patches": int(np.isinf(loud_np2).sum()),
            "frames_with_inf_in_patches": int(np.isinf(loud_np2).any(axis=2).sum()),
            "mel_bins_with_inf": sorted({int(b) for b in np.nonzero(np.isinf(loud_np2_rep))[1]}),
            "MSD_musicnn_nonfinite": {k: nonfinite(v) for k, v in loud2_res.items()},
            "MSD_musicnn_unfused_graph_nonfinite": {
                "taggram": nonfinite(unfused[0]),
                "penultimate": nonfinite(unfused[1]),
            },
            "MSD_musicnn_taggram_(null=NaN)": [
                [None if np.isnan(v) else float(v) for v in row] for row in loud2_res["taggram"]
            ],
        },
    }

    for k, v in out.items():
        if v.dtype.kind == "f":
            assert np.isfinite(v).all(), k

    npz = args.out / "reference.npz"
    np.savez_compressed(npz, **out)

    ckpt = {}
    for model in MODELS:
        for f in (".index", ".data-00000-of-00001"):
            ckpt[f"{model}/{f}"] = sha256(PKG_DIR / model / f)
    variables = {}
    for model in MODELS:
        r = tf.compat.v1.train.NewCheckpointReader(str(PKG_DIR / model) + "/")
        variables[model] = {
            n: s for n, s in sorted(r.get_variable_to_shape_map().items()) if "Adam" not in n
        }

    meanings = {
        "audio": "int16 (3, n_samples): clips a_chord, b_drums, c_sweep; the model input audio "
        "is audio / 32768 (float32)",
        "sample_rate": "int64 scalar, 16000",
        "patches": "float32 (n_patches, 187, 96): musicnn.extractor.batch_data output for each "
        "clip, concatenated in clip order; "
        "= log10(10000 * float32(float16(mel)) + 1) in float32 (numpy 1.x promotion), mel = "
        "librosa.feature.melspectrogram(y, sr=16000, "
        "hop_length=256, n_fft=512, n_mels=96).T (librosa 0.11 defaults: center=True, "
        "pad_mode='constant', power 2, slaney mel+norm); "
        "non-overlapping 187-frame patches from frame 0",
        "patch_clip": "int64 (n_patches,): index into audio of each patch",
        "M__taggram": "float32 (n_patches, 50): sigmoid(logits), is_training=False",
        "M__logits": "float32 (n_patches, 50): output of the last dense layer, before the sigmoid",
        "M__mean_pool": "float32 (n_patches, 753): musicnn only; mean over time of the mid-end "
        "feature map (561 front end + 3 x 64)",
        "M__max_pool": "float32 (n_patches, 753): musicnn only; max over time of the same map",
        "M__penultimate": "float32 (n_patches, 200): musicnn only; batch-normalised ReLU dense "
        "layer (bn_dense) feeding the output layer",
        "M__pool5": "float32 (n_patches, 256): vgg only; pool5, raw (n, 2, 1, 128) NHWC = (time, "
        "mel, channel), reshaped in C order = "
        "tf.layers.flatten order = the output layer's input (index = time*128 + channel)",
        "loud_audio": "int16 (56000,): loud clip (see loud_study)",
        "loud_inf_bins": "int64 scalar: inf entries in the original's log-mel of loud_audio "
        "(full 219 x 96 spectrogram, numpy 1.x)",
        "MSD_musicnn__loud_taggram": "float32 (1, 50): the original MSD_musicnn taggram for "
        "loud_audio's single patch",
    }
    key_table = {k: {"dtype": str(v.dtype), "shape": list(np.shape(v))} for k, v in out.items()}

    np2v = loud_study["numpy2_float16_variant"]
    onednn = onednn_off_rerun(args) if not args.no_rerun else None
    findings = (
        "The original front end line np.log10(10000 * audio_rep + 1), audio_rep float16, runs "
        f"under numpy {np.__version__} "
        "with legacy value-based promotion: the Python int 10000 is treated as uint16, float16 x "
        "uint16 -> float32, so the "
        "product and the log are float32 and cannot overflow (the float16 cast of the mel power "
        "itself would need mel > 65504). "
        f"For the loud clip (max mel power {loud_mel.max():.1f}) the original has {loud_inf_bins} "
        "inf bins, patch max "
        f"{float(loud_batch.max()):.4f}, and an all-finite MSD_musicnn taggram (stored). Under "
        "numpy 2 (NEP 50) the same line "
        f"stays float16: {loud_study['numpy2_float16_variant']['inf_bins_full_spectrogram']} of "
        f"{loud_np2_rep.size} bins become inf (log10(inf) = inf; mel bins "
        f"{np2v['mel_bins_with_inf']}), "
        f"{np2v['inf_bins_in_patches']} of them in the patch. Fed to MSD_musicnn, inf becomes NaN "
        "in every Conv2D "
        "(inf*w with mixed signs) and MaxPool drops NaN; what comes out then depends on "
        "TensorFlow's graph rewrite: with "
        "the default oneDNN fused Conv2D+BiasAdd+Relu (TF 2.15 on x86) the fused ReLU turns NaN "
        "into 0 and the taggram is "
        f"finite ({np2v['MSD_musicnn_nonfinite']['taggram']['nan']} NaN of 50), with the unfused "
        "graph (BiasAdd fetched too, "
        "or TF_ENABLE_ONEDNN_OPTS=0) it is "
        f"{np2v['MSD_musicnn_unfused_graph_nonfinite']['taggram']['nan']} NaN of 50. "
        "TensorFlow 2.15 requires numpy < 2, so the numpy-1 behaviour (float32 log, no inf) is "
        "the original's; "
        "the float16-arithmetic front end would move the clean clips' taggrams by up to "
        f"{max(v['taggram'] for v in np2_effect.values()):.2e} and logits by up to "
        f"{max(v['logits'] for v in np2_effect.values()):.2e}."
    )

    meta = {
        "command": "TF_CPP_MIN_LOG_LEVEL=2 /work/scratch/tfvenv/bin/python "
        "tools/musicnn_reference.py",
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": md.version("keras"),
            "numpy": np.__version__,
            "librosa": librosa.__version__,
            "soundfile": sf.__version__,
            "scipy": md.version("scipy"),
            "musicnn": md.version("musicnn"),
        },
        "environment": {
            "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "musicnn_package_dir": str(PKG_DIR),
        "checkpoint_sha256": ckpt,
        "checkpoint_variables_excluding_Adam_slots": variables,
        "keys": {
            k: {**key_table[k], "meaning": meanings.get(k) or meanings["M__" + k.split("__", 1)[1]]}
            for k in out
        },
        "raw_layer_shapes_all_patches_one_batch": raw_shapes,
        "clips": {
            **levels,
            "n_samples": int(audio.shape[1]),
            "mel_limit": MEL_LIMIT,
            "target_peak": TARGET_PEAK,
        },
        "front_end_checks": fe_checks,
        "graph": {
            "build": "tf.compat.v1 graph, tf.name_scope('model'), placeholder float32 "
            "[None,187,96], is_training placeholder "
            "fed False, models.define_model, tf.nn.sigmoid, global_variables_initializer then "
            "Saver().restore(sess, <pkg>/<model>/); "
            "every restored variable checked equal to the checkpoint tensor",
            "models": model_info,
            "batch_norm_epsilon": 0.001,
            "note": "patches fed as float32 (batch_data's own dtype under numpy 1.x)",
        },
        "batch1_vs_full_batch_max_abs_diff": batch1,
        "end_to_end_extractor_clip_a": e2e,
        "numpy2_float16_front_end_effect_on_outputs_max_abs_diff": np2_effect,
        "loud_study": loud_study,
        "onednn_off_rerun": onednn,
        "float16_findings": findings,
    }
    (args.out / "reference.json").write_text(json.dumps(meta, indent=1, allow_nan=False) + "\n")
    print(
        json.dumps(
            {
                "batch1": batch1,
                "e2e": e2e,
                "loud": loud_study["numpy1_original"],
                "np2": np2_effect,
            },
            indent=1,
        )
    )
    print(findings)
    print("wrote", npz, npz.stat().st_size, "bytes")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
