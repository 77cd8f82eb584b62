"""The review page as one HTML file that works from file:// (no server, no network).

The page's CSS (``page.css``) and script (``page.js``) are package data inlined into it; the
cards, the tracks' facts and the genres of the task travel as JSON inside a
``<script type="application/json">`` element, every ``<`` written ``\\u003c`` so that no track
title can close the element. The script renders the cards, keeps the decisions in
``localStorage`` under the page's id, and offers them as ``label_fixes.csv``
(:mod:`harness.data.label_fixes`) through a Blob download link.
"""

from __future__ import annotations

import hashlib
import html
import json
from importlib import resources

from harness.data.label_fixes import COLUMNS

SHORTCUTS = (
    ("j / k", "next / previous card"),
    ("a", "keep the label (accept)"),
    ("r", "relabel to the genre chosen in the card's list"),
    ("1 - 9", "relabel to the n-th genre of the taxonomy"),
    ("d", "drop the track"),
    ("u", "duplicate-of: drop this track, keep the other clip of the pair"),
    ("x", "clear the card's decision"),
    ("space", "play / pause the card's clip"),
    ("e", "export label_fixes.csv"),
)


def _asset(name: str) -> str:
    return resources.files("harness.review").joinpath(name).read_text("utf-8")


def embed_json(payload: dict) -> str:
    """``payload`` as JSON safe inside a ``<script>`` element (no ``<`` left in it)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def page_id(payload: dict) -> str:
    """The key of the page's decisions in ``localStorage``: its title and cards' digest, so a
    page rebuilt for the same suspects finds its decisions again and another run's does not."""
    text = json.dumps([payload["title"], [c["key"] for c in payload["cards"]]])
    return "fma-review:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def summary(payload: dict) -> str:
    """The sentence saying how many suspects the page holds and how many the cap left out."""
    text = f"{payload['shown']} suspects on this page"
    if payload["left_out"]:
        return f"{text}, {payload['left_out']} more left out by --max-cards (most certain first)"
    return f"{text}, none left out"


def render_page(payload: dict) -> str:
    """The whole page for ``payload`` (title, model, genres, cards, tracks, total, shown,
    left_out; see :func:`harness.review.build.build_review`)."""
    payload = payload | {"page_id": page_id(payload), "columns": list(COLUMNS)}
    keys = "".join(
        f"<tr><td><kbd>{html.escape(k)}</kbd></td><td>{html.escape(v)}</td></tr>"
        for k, v in SHORTCUTS
    )
    model = html.escape(payload["model"]) if payload["model"] else "no model's predictions"
    options = "".join(
        f'<option value="{html.escape(g)}">{html.escape(g)}</option>' for g in payload["genres"]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(payload["title"])}</title>
<style>{_asset("page.css")}</style>
</head><body>
<header>
<h1>{html.escape(payload["title"])}</h1>
<p id="summary">{html.escape(summary(payload))}; top-3 from {model}.
<span id="progress"></span></p>
<div id="filters">
<label>check <select id="filter-kind"><option value="">all</option></select></label>
<label>genre <select id="filter-genre"><option value="">all</option>{options}</select></label>
<label>split <select id="filter-split"><option value="">all</option></select></label>
<label>show <select id="filter-state"><option value="">all</option>
<option value="open">undecided</option><option value="done">decided</option></select></label>
<a id="export" download="label_fixes.csv" href="#">export label_fixes.csv</a>
</div>
<details id="help"><summary>Keyboard shortcuts</summary><table>{keys}</table>
<p>Decisions are saved in this browser as you go; export them and pass the file to
<code>fma-harness run --label-fixes label_fixes.csv</code>.</p></details>
</header>
<main id="cards"></main>
<script type="application/json" id="review-data">{embed_json(payload)}</script>
<script>{_asset("page.js")}</script>
</body></html>
"""
