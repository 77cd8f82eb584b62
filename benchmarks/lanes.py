"""Side by side or one at a time? Training steps of two neural models on this CPU's cores.

For each pair of models, in one run: a fixed number of training steps of each model alone with
every core's thread (one at a time, as a run trains without lanes), then the same steps of
both at once in two processes of one thread each (as :mod:`harness.run.lanes` trains).
Prints each model's ms per step in both settings and the combined throughput

    alone_a / side_a + alone_b / side_b      [> 1: side by side gets more done per second]

(each term: the fraction of its one-at-a-time speed a model keeps while sharing the cores).

Inputs are random log-mel-shaped tensors (batch 16, 96 mel bands, 128 frames): the step's
arithmetic, not the data path (``benchmarks/training.py``). Usage::

    .venv/bin/python benchmarks/lanes.py [--models cnn,crnn,short-chunk] [--steps 30]

Timings are wall-clock and only meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import time

import torch

from harness.training.estimator import NeuralClassifier


def step_seconds(model: str, steps: int, threads: int) -> float:
    """Mean seconds per training step (forward, backward, AdamW) after two warm-up steps."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    module = NeuralClassifier(model).build_module(n_classes=8, n_mels=96)
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    x, y = torch.randn(16, 96, 128), torch.randint(0, 8, (16,))
    for i in range(steps + 2):
        if i == 2:
            started = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(module(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - started) / steps


def _lane(args: tuple[str, int]) -> float:
    model, steps = args
    return step_seconds(model, steps, threads=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cnn,crnn,short-chunk")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    models = args.models.split(",")
    alone = {m: step_seconds(m, args.steps, threads=cores) for m in models}
    print(
        f"{cores} cores; ms per step alone with {cores} threads: "
        + ", ".join(f"{m} {1000 * s:.0f}" for m, s in alone.items())
    )
    context = multiprocessing.get_context("spawn")
    for a, b in itertools.combinations(models, 2):
        with context.Pool(2) as pool:
            side = pool.map(_lane, [(a, args.steps), (b, args.steps)])
        throughput = alone[a] / side[0] + alone[b] / side[1]
        print(
            f"{a} + {b}: side by side (1 thread each) {1000 * side[0]:.0f} and "
            f"{1000 * side[1]:.0f} ms per step; throughput side by side / one at a time "
            f"{throughput:.2f}"
        )


if __name__ == "__main__":
    main()
