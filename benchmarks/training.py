"""Training and inference throughput of the neural models, and the cost of the data path.

For each model and preset, in one run:

- train chunks/s with the real pipeline: a float16 log-mel memmap on disk, random crops,
  the training loop's own batches (:func:`harness.training.loaders.train_loader`): a DataLoader,
  or, with ``data_on_device`` (on a GPU by default), the log-mels copied once to the device's
  memory and cut there (:mod:`harness.training.resident`);
- train chunks/s of the same model and loop on in-memory random tensors of the same shape;
- their ratio (the data path must not be the bottleneck: target >= 0.8 on a CPU, >= 0.95 on a
  GPU);
- inference chunks/s (evenly spaced evaluation chunks, read by the same data path);
- with ``--amp auto,false``, each model's throughput under mixed precision over float32
  (bfloat16 autocast on a CPU with AMX, float16 on CUDA: :mod:`harness.training.runtime`).

Measurements alternate real / in-memory rounds and keep each side's best round, so a shared
machine's noise hits both alike. A GPU gets longer rounds by default (48 steps, 5 rounds): a
compact model's step takes about 5 ms there, and rounds of 6 steps moved the ratio by up to 0.15
from one run to the next on an H100. Usage::

    python benchmarks/training.py          # cnn, crnn, short-chunk; compact+paper; this CPU
    python benchmarks/training.py --models crnn --presets compact --rounds 5 --json out.json
    python benchmarks/training.py --device cuda --data-on-device auto,false   # both data paths
    python benchmarks/training.py --presets compact --threads 1 --amp auto,false  # precision
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from harness.training import loaders, resident, runtime
from harness.training import steps as loop
from harness.training.estimator import NeuralClassifier


def make_cache(path: Path, *, n_clips: int, n_mels: int, frames: int) -> np.memmap:
    """A float16 memmap of dB-like values, written to disk and reopened read-only."""
    rng = np.random.default_rng(0)
    mm = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float16, shape=(n_clips, n_mels, frames)
    )
    for i in range(n_clips):
        mm[i] = rng.normal(-40, 12, size=(n_mels, frames))
    mm.flush()
    del mm
    return np.load(path, mmap_mode="r")


def timed_epoch(clf, module, loader, optimizer, *, device, use_amp) -> tuple[float, int]:
    """Seconds and chunks for one pass of ``loop.train_epoch`` over ``loader``."""
    settings = clf.get_params(deep=False)
    scaler = runtime.grad_scaler(device, use_amp)
    n = sum(len(x) for x, _ in loader) if isinstance(loader, list) else None
    start = time.perf_counter()
    loop.train_epoch(
        module,
        loader,
        optimizer=optimizer,
        scaler=scaler,
        device=device,
        settings=settings,
        lr_fn=lambda s: 1e-3,
        step0=0,
        loss_kw={"weight": None},
        use_amp=use_amp,
    )
    seconds = time.perf_counter() - start
    return seconds, n if n is not None else len(loader) * loader.batch_size


def bench_one(model: str, preset: str, cache: np.memmap, args, *, data_on_device, amp) -> dict:
    n_classes = 8
    batch = args.batch_size if preset == "compact" else max(4, args.batch_size // 4)
    clf = NeuralClassifier(model, preset=preset, batch_size=batch, progress=False)
    device = torch.device(args.device)
    use_amp = runtime.resolve_amp(amp, device)
    torch.manual_seed(0)
    module = clf.build_module(n_classes=n_classes, n_mels=cache.shape[1]).to(device)
    chunk_frames = clf.resolve_chunk_frames(module)
    steps = args.steps if preset == "compact" else max(1, args.steps // 3)
    n_clips = min(steps * batch, cache.shape[0])
    targets = np.arange(n_clips) % n_classes
    (source,) = resident.place([cache[:n_clips]], setting=data_on_device, device=device)
    train = loaders.train_loader(
        source,
        targets,
        chunk_frames=chunk_frames,
        batch_size=batch,
        num_workers=clf.num_workers,
        random_state=clf.random_state,
    )
    shape = (batch, cache.shape[1], chunk_frames)
    memory = [
        (torch.randn(shape) * 12 - 40, torch.as_tensor(targets[: shape[0]]))
        for _ in range(len(train.loader))
    ]
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    # warm-up, one whole pass of each: cuDNN's algorithm search, the allocator, a GPU's clocks
    train.set_epoch(0)
    timed_epoch(clf, module, train.loader, optimizer, device=device, use_amp=use_amp)
    timed_epoch(clf, module, memory, optimizer, device=device, use_amp=use_amp)
    real, mem = [], []
    for r in range(args.rounds):
        train.set_epoch(r)
        s, n = timed_epoch(clf, module, train.loader, optimizer, device=device, use_amp=use_amp)
        real.append(n / s)
        s, n = timed_epoch(clf, module, memory, optimizer, device=device, use_amp=use_amp)
        mem.append(n / s)
    eval_loader = loaders.eval_loader(
        source,
        chunk_frames=chunk_frames,
        n_eval_chunks=clf.n_eval_chunks,
        batch_size=batch,
        num_workers=clf.num_workers,
    )
    start = time.perf_counter()
    loop.predict_logits(module, eval_loader, device=device, use_amp=use_amp)
    infer = n_clips * clf.n_eval_chunks / (time.perf_counter() - start)
    return {
        "model": model,
        "preset": preset,
        "chunk_frames": chunk_frames,
        "data_path": "device" if isinstance(source, resident.DeviceArray) else "dataloader",
        "precision": precision_name(device, use_amp),
        "batch_size": batch,
        "params": sum(p.numel() for p in module.parameters()),
        "train_chunks_s_real": max(real),
        "train_chunks_s_memory": max(mem),
        "ratio": max(real) / max(mem),
        "infer_chunks_s": infer,
    }


def precision_name(device: torch.device, use_amp: bool) -> str:
    """The autocast type a fit would use on ``device`` ("bfloat16", "float16"), or "float32"."""
    return str(runtime.amp_dtype(device)).removeprefix("torch.") if use_amp else "float32"


def _setting(text: str):
    """A ``data_on_device`` or ``amp`` value from the command line: auto, true or false."""
    return {"auto": "auto", "true": True, "false": False}[text.strip().lower()]


def precision_ratios(rows: list[dict]) -> list[str]:
    """Per model and preset measured at several precisions: in-memory training and inference
    throughput of each mixed precision over float32 (same data path)."""
    lines = []
    for row in rows:
        if row["precision"] == "float32":
            continue
        base = [
            r
            for r in rows
            if r["precision"] == "float32"
            and all(r[k] == row[k] for k in ("model", "preset", "data_path"))
        ]
        if base:
            train = row["train_chunks_s_memory"] / base[0]["train_chunks_s_memory"]
            infer = row["infer_chunks_s"] / base[0]["infer_chunks_s"]
            lines.append(
                f"{row['model']:11} {row['preset']:8} {row['precision']} over float32: "
                f"training {train:.2f}x, inference {infer:.2f}x the chunks/s"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cnn,crnn,short-chunk")
    parser.add_argument("--presets", default="compact,paper")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimiser steps per round (default: 6 on a CPU, 48 on a GPU)",
    )
    parser.add_argument("--rounds", type=int, default=None, help="default: 3 on a CPU, 5 on a GPU")
    parser.add_argument("--frames", type=int, default=1249, help="frames per cached clip")
    parser.add_argument("--n-mels", type=int, default=96)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--data-on-device",
        default="auto",
        help="comma-separated settings to compare: auto, true, false",
    )
    parser.add_argument(
        "--amp",
        default="auto",
        help="comma-separated mixed-precision settings to compare: auto (as a fit: CUDA, or a "
        "CPU with AMX), true, false; with false and another, prints their throughput ratios",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    on_gpu = torch.device(args.device).type == "cuda"
    args.steps = args.steps or (48 if on_gpu else 6)
    args.rounds = args.rounds or (5 if on_gpu else 3)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        n = args.batch_size * args.steps
        cache = make_cache(
            Path(tmp) / "logmel.npy", n_clips=n, n_mels=args.n_mels, frames=args.frames
        )
        print(f"device {args.device}, torch threads {torch.get_num_threads()}, cache {cache.shape}")
        print(
            f"{'model':11} {'preset':8} {'data path':10} {'precision':9} {'chunk':>5} "
            f"{'params':>10} {'train real':>10} {'train mem':>10} {'ratio':>6} {'infer':>8}"
            "   (chunks/s)"
        )
        settings = [_setting(v) for v in args.data_on_device.split(",")]
        amps = [_setting(v) for v in args.amp.split(",")]
        for model in args.models.split(","):
            for preset in args.presets.split(","):
                for setting in settings:
                    for amp in amps:
                        row = bench_one(model, preset, cache, args, data_on_device=setting, amp=amp)
                        rows.append(row)
                        print(
                            f"{model:11} {preset:8} {row['data_path']:10} "
                            f"{row['precision']:9} {row['chunk_frames']:5d} "
                            f"{row['params']:10,d} {row['train_chunks_s_real']:10.1f} "
                            f"{row['train_chunks_s_memory']:10.1f} {row['ratio']:6.2f} "
                            f"{row['infer_chunks_s']:8.1f}",
                            flush=True,
                        )
    for line in precision_ratios(rows):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
