"""The review page in a real browser: headless Chromium (the system's, driven by playwright's
Python client) opens a run's page from file://, plays an excerpt, takes one decision of each
kind through clicks and keys, reloads, exports label_fixes.csv, and the exported file changes
exactly the decided tracks when the data is prepared with it.

Without a Chromium the test skips, saying why; with ``FMA_REQUIRE_BROWSER=1`` (CI's
``.ci/run``) it fails instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.data.formats import load_dataset
from harness.data.label_fixes import apply_label_fixes

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def chromium_path() -> str | None:
    """The system Chromium (``FMA_CHROMIUM`` when set), or None."""
    named = os.environ.get("FMA_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def browser_or_skip():
    """(sync_playwright, executable): skip without them, or fail under FMA_REQUIRE_BROWSER=1."""
    required = os.environ.get("FMA_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "the playwright package is not installed (pip install playwright)"
    else:
        path = chromium_path()
        if path:
            return sync_playwright, path
        reason = "no Chromium (FMA_CHROMIUM, or chromium on PATH: apt-get install chromium)"
    if required:
        pytest.fail(f"FMA_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    """(sync_playwright, executable), looked up before the run is built (a skip costs nothing)."""
    return browser_or_skip()


def _decided(page) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.card.decided')]
             .map(c => [c.dataset.track, c.querySelector('.decision').textContent]))"""
    )


def test_listen_decide_reload_export_and_apply(chromium, review_run, synth_root, tmp_path):
    sync_playwright, executable = chromium
    run_dir, _ = review_run
    result = CliRunner().invoke(app, ["review", str(run_dir), "--out", str(tmp_path / "page")])
    assert result.exit_code == 0, result.output
    index = tmp_path / "page" / "index.html"
    data = load_dataset(root=synth_root)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--autoplay-policy=no-user-gesture-required"],
        )
        try:
            context = browser.new_context(accept_downloads=True)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(index.as_uri())
            page.wait_for_selector("body[data-rendered]")
            cards = page.evaluate("JSON.parse(document.getElementById('review-data').textContent)")
            shown = cards["shown"]
            assert shown > 4
            assert page.locator("section.card").count() == shown
            assert f"{shown} suspects on this page" in page.inner_text("#summary")

            # play the first excerpt: it decodes and its time moves on
            played = page.evaluate(
                """async () => {
                     const a = document.querySelector('audio');
                     await a.play();
                     await new Promise(r => setTimeout(r, 600));
                     return {time: a.currentTime, paused: a.paused, ready: a.readyState,
                             error: a.error && a.error.code};
                   }"""
            )
            assert played["error"] is None and played["ready"] >= 1
            assert played["time"] > 0 and not played["paused"]

            # one decision of each kind, on four different tracks
            pair_index, pair = next((i, c) for i, c in enumerate(cards["cards"]) if c["other"])
            taken = {pair["track"], pair["other"]}
            singles = []
            for i, card in enumerate(cards["cards"]):
                if card["track"] not in taken and len(singles) < 3:
                    singles.append((i, card))
                    taken.add(card["track"])
            (keep_i, keep), (relabel_i, relabel), (drop_i, drop) = singles
            given = data.labels.loc[int(relabel["track"])]
            genre = next(g for g in cards["genres"] if g != given)

            page.click(f"#card-{pair_index} h2")
            page.keyboard.press("u")  # duplicate-of, by key
            page.click(f"#card-{keep_i} button[data-action=keep]")  # keep, by click
            page.select_option(f"#card-{relabel_i} select.genre", genre)
            page.fill(f"#card-{relabel_i} input.note", "sounds like it")
            page.click(f"#card-{relabel_i} button[data-action=relabel]")
            page.click(f"#card-{drop_i} h2")
            page.keyboard.press("j")  # next card, then back: the shortcuts move the focus
            page.keyboard.press("k")
            page.keyboard.press("d")  # drop, by key
            before = _decided(page)
            assert before[pair["track"]] == f"duplicate of {pair['other']}"
            assert before[keep["track"]] == "keep" and before[drop["track"]] == "drop"
            assert before[relabel["track"]] == f"relabel to {genre}"
            assert "4 decided" in page.inner_text("#progress")

            page.reload()
            page.wait_for_selector("body[data-rendered]")
            assert _decided(page) == before  # localStorage kept every decision

            with page.expect_download() as info:
                page.click("#export")
            download = info.value
            assert download.suggested_filename == "label_fixes.csv"
            csv = tmp_path / "label_fixes.csv"
            download.save_as(csv)
            assert not errors
        finally:
            browser.close()

    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert list(table.columns) == [
        "track_id",
        "action",
        "new_label",
        "duplicate_of",
        "check",
        "note",
        "time",
    ]
    assert len(table) == 4
    row = table.set_index("track_id").loc[relabel["track"]]
    assert (row["action"], row["new_label"], row["note"]) == ("relabel", genre, "sounds like it")
    assert row["check"] == relabel["check"] and row["time"].endswith("Z")

    fixed = apply_label_fixes(data, csv)
    gone = {int(pair["track"]), int(drop["track"])}
    assert set(data.labels.index) - set(fixed.labels.index) == gone
    assert int(pair["other"]) in fixed.labels.index
    changed = fixed.labels[fixed.labels != data.labels.reindex(fixed.labels.index)]
    assert changed.to_dict() == {int(relabel["track"]): genre}
    assert fixed.label_fixes["counts"] == {"keep": 1, "relabel": 1, "drop": 1, "duplicate-of": 1}


def test_a_mislabel_card_offers_the_checks_suggestion_first(chromium, tmp_path):
    """The relabel list of a mislabel card starts at the genre the check suggests (a training
    track has no model top-3 to take it from), another card's at the model's best other genre."""
    from harness.review.cards import Card
    from harness.review.page import render_page

    sync_playwright, executable = chromium
    genres = ["Electronic", "Folk", "Pop", "Rock"]
    cards = [
        Card("mislabel:5", "mislabel", "labels/suspected_mislabels", 0.9, "5", suggested="Pop"),
        Card("silent:7", "silent", "audio/decode_status", 1.0, "7"),
    ]
    tracks = {
        "5": {"label": "Rock", "top3": []},
        "7": {"label": "Rock", "top3": [["Rock", 0.6], ["Folk", 0.3], ["Pop", 0.1]]},
    }
    payload = {"title": "t", "model": "m", "genres": genres, "cards": [c.to_json() for c in cards]}
    payload |= {"tracks": tracks, "total": 2, "shown": 2, "left_out": 0}
    index = tmp_path / "index.html"
    index.write_text(render_page(payload), "utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True)
        try:
            page = browser.new_page()
            page.goto(index.as_uri())
            page.wait_for_selector("body[data-rendered]")
            by_track = page.evaluate(
                """() => Object.fromEntries([...document.querySelectorAll('.card')]
                     .map(c => [c.dataset.track, c.querySelector('select.genre').value]))"""
            )
        finally:
            browser.close()
    assert by_track == {"5": "Pop", "7": "Folk"}
