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

import torch
from training import precision_name, timed_epoch  # benchmarks/training.py, beside this script

from harness.training import runtime
from harness.training.estimator import NeuralClassifier


def seconds_per_step(clf, module, optimizer, batches, *, device, use_amp) -> float:
    """Seconds per step of one pass of the training loop over ``batches``."""
    seconds, _ = timed_epoch(clf, module, batches, optimizer, device=device, use_amp=use_amp)
    return seconds / len(batches)


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
        batches = [
            (torch.randn(shape) * 12 - 40, torch.arange(args.batch_size) % 8)
            for _ in range(args.steps)
        ]
        optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
        warm_up = batches[:2]
        seconds_per_step(clf, module, optimizer, warm_up, device=device, use_amp=use_amp)
        sides[pool_first] = (clf, module, optimizer, batches, [])
    for _ in range(args.rounds):
        for clf, module, optimizer, batches, times in sides.values():
            seconds = seconds_per_step(
                clf, module, optimizer, batches, device=device, use_amp=use_amp
            )
            times.append(seconds)
    first, last = min(sides[True][4]), min(sides[False][4])
    return {
        "model": model,
        "pool_first_ms": 1e3 * first,
        "pool_last_ms": 1e3 * last,
        "ratio": first / last,
        "precision": precision_name(device, use_amp),
    }


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
        print(
            f"{r['model']:12} {r['precision']:9} {r['pool_first_ms']:13.1f} "
            f"{r['pool_last_ms']:12.1f} {r['ratio']:6.2f}"
        )


if __name__ == "__main__":
    main()
