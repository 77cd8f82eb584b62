"""Benchmark the review page: how long a page of 200 suspects takes to load in headless Chromium.

Builds a page of ``--n-cards`` synthetic suspects (tones of 4 s written as real excerpts and
log-mel pictures by :mod:`harness.review.excerpts`; a fifth of the cards are pairs, so about
240 clips), then opens it from file:// ``--repeats`` times, each in a fresh browser context
(empty cache and storage), and prints the median and the worst of:

- navigation start to the ``load`` event (PerformanceNavigationTiming.loadEventEnd);
- navigation start to every card rendered (the page script's ``data-rendered-ms`` mark);
- the load event of an empty page opened the same way (what a fresh context costs anyway).

Target (issue 35): under 2 s for 200 suspects. The build time of the page (excerpts included)
is printed too, as a figure. Usage::

    .venv/bin/python benchmarks/review_page.py [--n-cards 200] [--repeats 5] [--chromium PATH]

Timings are wall-clock and only meaningful on an otherwise idle machine; the load average is
printed beside them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from harness.data.taxonomy import SMALL_GENRES
from harness.review.cards import Card
from harness.review.excerpts import write_excerpt
from harness.review.page import render_page
from harness.storage import write_text_atomic

GENRES = list(SMALL_GENRES)  # the FMA small subset's eight
SR = 22050
LOAD_EVENT = "performance.getEntriesByType('navigation')[0].loadEventEnd"


def synthetic_page(folder: Path, *, n_cards: int) -> Path:
    """Write a page of ``n_cards`` suspects with their excerpts into ``folder``."""
    rng = np.random.default_rng(0)
    clips = folder / "clips"
    clips.mkdir(parents=True)
    cards, tracks = [], {}

    def track(name: str) -> None:
        t = np.arange(int(4 * SR)) / SR
        y = 0.3 * np.sin(2 * np.pi * rng.uniform(110, 880) * t) * (1 + np.sin(3 * t)) / 2
        sf.write(clips / f"{name}.wav", y.astype(np.float32), SR)
        excerpt = write_excerpt(clips / f"{name}.wav", key=name, out=folder)
        probabilities = rng.dirichlet(np.ones(len(GENRES)))
        best = np.argsort(-probabilities)[:3]
        tracks[name] = {
            "label": GENRES[int(rng.integers(len(GENRES)))],
            "split": ("training", "validation", "test")[int(rng.integers(3))],
            "artist": f"Artist {name}",
            "album": f"Album {name}",
            "title": f"Title </script> {name}",
            "top3": [[GENRES[j], round(float(probabilities[j]), 3)] for j in best],
            "audio": excerpt.audio,
            "picture": excerpt.picture,
            "seconds": excerpt.seconds,
        }

    for i in range(n_cards):
        name, other = str(1000 + i), str(5000 + i) if i % 5 == 0 else ""
        track(name)
        if other:
            track(other)
        kind = "near-duplicate" if other else ("mislabel", "silent", "model error")[i % 3]
        cards.append(
            Card(
                key=f"{kind}:{name}",
                kind=kind,
                check="benchmark",
                score=round(float(rng.uniform()), 4),
                track=name,
                other=other,
                evidence=f"synthetic suspect {i}",
            ).to_json()
        )
    cards.sort(key=lambda c: -c["score"])
    payload = {
        "title": f"benchmark: {n_cards} suspects",
        "model": "synthetic",
        "genres": GENRES,
        "cards": cards,
        "tracks": tracks,
        "total": n_cards,
        "shown": n_cards,
        "left_out": 0,
    }
    path = folder / "index.html"
    write_text_atomic(path, render_page(payload))
    return path


def measure(path: Path, *, executable: str, repeats: int) -> tuple[list[float], list[float]]:
    """(load-event ms, all-cards-rendered ms) of ``repeats`` fresh openings of ``path``."""
    from playwright.sync_api import sync_playwright

    loads, rendered = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True)
        try:
            for _ in range(repeats):
                context = browser.new_context()
                page = context.new_page()
                page.goto(path.as_uri(), wait_until="load")
                if path.name != "index.html":  # the empty page of the baseline
                    loads.append(float(page.evaluate(LOAD_EVENT)))
                    context.close()
                    continue
                page.wait_for_selector("body[data-rendered]")
                loads.append(float(page.evaluate(LOAD_EVENT)))
                rendered.append(float(page.get_attribute("body", "data-rendered-ms")))
                assert page.locator("section.card").count() == int(
                    page.get_attribute("body", "data-rendered")
                )
                context.close()
        finally:
            browser.close()
    return loads, rendered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-cards", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = synthetic_page(Path(tmp), n_cards=args.n_cards)
        built = time.perf_counter() - start
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if "clips" not in f.parts)
        html_kb = path.stat().st_size / 1e3
        loads, rendered = measure(path, executable=args.chromium, repeats=args.repeats)
        empty = Path(tmp) / "empty.html"
        empty.write_text("<!doctype html><title>empty</title><body></body>")
        baseline, _ = measure(empty, executable=args.chromium, repeats=args.repeats)
    print(
        f"page of {args.n_cards} suspects: built in {built:.1f} s, {size / 1e6:.1f} MB with "
        f"excerpts (index.html {html_kb:.0f} kB)"
    )
    print(f"empty page's load event: median {statistics.median(baseline):.0f} ms")
    print(f"load event:        median {statistics.median(loads):.0f} ms, worst {max(loads):.0f} ms")
    print(
        f"all cards rendered: median {statistics.median(rendered):.0f} ms, "
        f"worst {max(rendered):.0f} ms  [target < 2000 ms]"
    )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
