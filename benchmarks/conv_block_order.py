"""Training step time of each compact model with its conv blocks pooling first or last.

``pool_first`` (:class:`models.blocks.ConvBlock`) max-pools a conv's output before its batch
norm and activation, which then run over a half to a quarter of the map. The compact presets
pool first in their leading blocks (cnn and crnn all 4, short-chunk 3 of 7). This prints, for
each model, the seconds per training step that way and with every block pooling last
(``pool_first=0``, the published order), and their ratio (pool first / pool last),
measured in one run: rounds alternate between the two and each side keeps its best round, so
a shared machine's noise hits both alike. In-memory batches, the training loop's own step
(:func:`harness.training.steps.train_epoch`), the precision ``amp="auto"`` picks here. Usage::

    python benchmarks/conv_block_order.py                      # cnn, crnn, short-chunk
    python benchmarks/conv_block_order.py --models crnn --rounds 5 --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch

from harness.training import runtime
from harness.training import steps as loop
from harness.training.estimator import NeuralClassifier


def seconds_per_step(clf, module, batches, *, device, use_amp) -> float:
    """Seconds per step of one pass of ``loop.train_epoch`` over ``batches``."""
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    start = time.perf_counter()
    loop.train_epoch(module, batches, optimizer=optimizer,
                     scaler=runtime.grad_scaler(device, use_amp), device=device,
                     settings=clf.get_params(deep=False), lr_fn=lambda s: 1e-3, step0=0,
                     loss_kw={"weight": None}, use_amp=use_amp)  # fmt: skip
    return (time.perf_counter() - start) / len(batches)


def bench(model: str, args) -> dict:
    device = torch.device("cpu")
    use_amp = runtime.resolve_amp("auto", device)
    sides = {}
    for pool_first in (True, False):  # the compact preset's own order, and pooling last
        params = None if pool_first else {"pool_first": 0}
        clf = NeuralClassifier(model, model_params=params, progress=False)
        torch.manual_seed(0)
        module = clf.build_module(n_classes=8, n_mels=args.n_mels).to(device)
        frames = clf.resolve_chunk_frames(module) if model == "short-chunk" else args.frames
        shape = (args.batch_size, args.n_mels, frames)
        batches = [(torch.randn(shape) * 12 - 40, torch.arange(args.batch_size) % 8)
                   for _ in range(args.steps)]  # fmt: skip
        seconds_per_step(clf, module, batches[:2], device=device, use_amp=use_amp)  # warm-up
        sides[pool_first] = (clf, module, batches, [])
    for _ in range(args.rounds):
        for clf, module, batches, times in sides.values():
            times.append(seconds_per_step(clf, module, batches, device=device, use_amp=use_amp))
    first, last = min(sides[True][3]), min(sides[False][3])
    return {"model": model, "pool_first_ms": 1e3 * first, "pool_last_ms": 1e3 * last,
            "ratio": first / last, "precision": "bfloat16" if use_amp else "float32"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cnn,crnn,short-chunk")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--frames", type=int, default=128, help="chunk (the fast preset's)")
    parser.add_argument("--n-mels", type=int, default=96)
    parser.add_argument("--steps", type=int, default=6, help="steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'model':12} {'precision':9} {'pool first ms':>13} {'pool last ms':>12} {'ratio':>6}")
    for model in args.models.split(","):
        r = bench(model, args)
        print(f"{r['model']:12} {r['precision']:9} {r['pool_first_ms']:13.1f} "
              f"{r['pool_last_ms']:12.1f} {r['ratio']:6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
