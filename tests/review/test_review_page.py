"""The review page without a browser: its cards, its embedded JSON, the excerpts, the cap and
the command's errors (the page in Chromium: test_review_browser.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from harness.checks.base import load_checks
from harness.cli import app
from harness.data.formats import load_dataset
from harness.review import build
from harness.review.build import best_model, model_predictions
from harness.review.cards import cards_from_checks, model_error_cards, sort_cards
from harness.review.excerpts import EXCERPT_S, safe_name, write_excerpt
from harness.review.page import embed_json, render_page
from harness.run_layout import RunLayout


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def page_data(path) -> dict:
    """The JSON embedded in a review page."""
    text = path.read_text("utf-8")
    found = re.search(
        r'<script type="application/json" id="review-data">(.*?)</script>', text, re.S
    )
    assert found, "no embedded data"
    return json.loads(found.group(1))


def test_cards_of_a_run_name_its_planted_faults(review_run, synth_root):
    run_dir, _ = review_run
    results = load_checks(RunLayout(run_dir).checks)
    data = load_dataset(root=synth_root)
    cards = cards_from_checks(results, data.labels.index)
    truth = pd.read_csv(synth_root / "synthetic_truth.csv", dtype=str, keep_default_na=False)
    kinds = {c.kind: c for c in cards}
    for fault in ("empty", "short", "silent", "corrupt"):
        planted = set(truth.loc[truth["fault"] == fault, "track_id"])
        assert kinds[fault].track in planted and kinds[fault].score == 1.0
    pairs = [c for c in cards if c.other]
    planted = {
        frozenset((t, d.split("=")[1].split(";")[0]))
        for t, d in zip(truth["track_id"], truth["detail"], strict=True)
        if d.startswith("duplicate_of=")
    }
    assert {frozenset((c.track, c.other)) for c in pairs} == planted
    labelled = {str(k) for k in data.labels.index}
    assert all(c.track in labelled for c in cards)
    model = best_model(run_dir)
    assert model == "mfcc-logreg"
    errors = [
        card
        for arrays in model_predictions(run_dir, model)
        for card in model_error_cards(arrays, model=model, labelled=labelled, limit=50)
    ]
    assert errors and all(c.kind == "model error" and 0 < c.score <= 1 for c in errors)
    ordered = sort_cards([*cards, *errors])
    scores = [c.score for c in ordered]
    assert scores == sorted(scores, reverse=True)
    assert len({c.key for c in ordered}) == len(ordered)


def test_review_command_writes_an_offline_page(review_run, tmp_path):
    run_dir, _ = review_run
    result = _cli("review", run_dir, "--out", tmp_path / "page")
    assert result.exit_code == 0, result.output
    index = tmp_path / "page" / "index.html"
    text = index.read_text("utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing from a network
    assert "<link" not in text and "page.js" not in text  # CSS and script inlined
    data = page_data(index)
    assert data["shown"] == len(data["cards"]) == data["total"] and data["left_out"] == 0
    assert f"{data['shown']} suspects on this page, none left out" in text
    assert data["model"] == "mfcc-logreg"
    assert data["genres"] == sorted(data["genres"]) and len(data["genres"]) == 8
    for card in data["cards"]:
        facts = data["tracks"][card["track"]]
        assert facts["label"] in data["genres"] and facts["split"]
        assert facts["artist"] and facts["title"]
        if facts["audio"]:
            assert (index.parent / facts["audio"]).is_file()
            assert (index.parent / facts["picture"]).read_bytes()[:4] == b"\x89PNG"
    kinds = {c["kind"] for c in data["cards"]}
    assert {"cross-split duplicate", "silent", "corrupt", "model error"} <= kinds
    errors = [c for c in data["cards"] if c["kind"] == "model error"]
    assert all(len(data["tracks"][c["track"]]["top3"]) == 3 for c in errors)
    corrupt = next(c for c in data["cards"] if c["kind"] == "corrupt")
    assert data["tracks"][corrupt["track"]]["audio"] == ""  # nothing to play, no crash
    # only the suspects' excerpts, not the collection
    played = {t["audio"] for t in data["tracks"].values() if t["audio"]}
    assert len(list((index.parent / "audio").iterdir())) == len(played)


def test_the_cap_keeps_the_most_certain_and_says_how_many_left(review_run, tmp_path):
    run_dir, _ = review_run
    full = build.review_run(run_dir, out=tmp_path / "full", max_cards=200)
    capped = build.review_run(run_dir, out=tmp_path / "capped", max_cards=3)
    assert (capped.shown, capped.left_out) == (3, full.shown - 3)
    data = page_data(capped.path)
    whole = page_data(full.path)
    assert [c["key"] for c in data["cards"]] == [c["key"] for c in whole["cards"][:3]]
    assert f"{full.shown - 3} more left out by --max-cards" in capped.path.read_text("utf-8")
    names = {n for c in data["cards"] for n in (c["track"], c["other"]) if n}
    assert set(data["tracks"]) == names
    assert len(list((tmp_path / "capped" / "audio").glob("*.ogg"))) <= len(names)


def test_embedded_json_cannot_be_closed_by_a_title():
    payload = {
        "title": "</script><script>alert(1)</script>",
        "model": "",
        "genres": ["Rock"],
        "cards": [
            {
                "key": "k",
                "track": "1",
                "other": "",
                "kind": "mislabel",
                "check": "c",
                "score": 0.5,
                "evidence": "<!-- </script>",
            }
        ],
        "tracks": {"1": {"title": "</script>", "label": "Rock", "top3": []}},
        "total": 1,
        "shown": 1,
        "left_out": 0,
    }
    assert "<" not in embed_json(payload)
    text = render_page(payload)
    assert text.count("</script>") == 2  # the data element's and the script's own
    data = page_data_text(text)
    assert data["tracks"]["1"]["title"] == "</script>"
    assert "&lt;/script&gt;&lt;script&gt;" in text.split("<script")[0]  # the title escaped


def page_data_text(text: str) -> dict:
    found = re.search(r'id="review-data">(.*?)</script>', text, re.S)
    return json.loads(found.group(1))


def test_an_excerpt_is_ten_seconds_from_the_middle_mono_vorbis(tmp_path):
    sr = 22050
    t = np.arange(30 * sr) / sr
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 220 * t)], axis=1) * 0.3
    sf.write(tmp_path / "long.wav", stereo, sr)
    excerpt = write_excerpt(tmp_path / "long.wav", key="a/b c.wav", out=tmp_path / "page")
    assert excerpt.seconds == pytest.approx(EXCERPT_S)
    info = sf.info(tmp_path / "page" / excerpt.audio)
    assert (info.format, info.subtype, info.channels) == ("OGG", "VORBIS", 1)
    assert info.duration == pytest.approx(EXCERPT_S, abs=0.05)
    assert excerpt.audio == f"audio/{safe_name('a/b c.wav')}.ogg" and "/" not in safe_name("a/b")
    sf.write(tmp_path / "short.wav", stereo[: 2 * sr], sr)
    assert write_excerpt(tmp_path / "short.wav", key="s", out=tmp_path / "page").seconds == 2.0
    (tmp_path / "empty.mp3").write_bytes(b"")
    assert write_excerpt(tmp_path / "empty.mp3", key="e", out=tmp_path / "page").audio == ""


def _program(*args):
    command = [sys.executable, "-m", "harness", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_review_of_a_folder_that_is_not_a_run_is_one_line(tmp_path):
    result = _program("review", tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "no checks.json" in result.stderr
    assert str(tmp_path) in result.stderr and not (tmp_path / "review").exists()
    (tmp_path / "checks.json").write_text("[]")  # checks, but no manifest: not a run either
    result = _program("review", tmp_path)
    assert result.returncode == 1 and "not a run folder" in result.stderr
    assert result.stderr.count("\n") == 1
    both = _program("review", tmp_path, "--root", tmp_path)
    assert both.returncode == 1 and both.stderr.count("\n") == 1


def test_review_root_writes_the_data_checks_and_their_page(review_run, synth_root, tmp_path):
    _, cache = review_run  # its features are cached: no extraction again
    out = tmp_path / "checks"
    result = _cli(
        "review", "--root", synth_root, "--out", out, "--cache-dir", cache, "--n-jobs", "1"
    )
    assert result.exit_code == 0, result.output
    assert (out / "checks.json").is_file()
    data = page_data(out / "index.html")
    kinds = {c["kind"] for c in data["cards"]}
    assert {"cross-split duplicate", "empty", "short"} <= kinds and "model error" not in kinds
    assert data["model"] == ""


def test_a_mislabel_card_is_as_sure_as_the_classifier_rejects_the_label():
    from harness.checks.base import CheckResult

    table = pd.DataFrame(
        {
            "track_id": [5, 7, 9],
            "given": ["Rock", "Pop", "Folk"],
            "suggested": ["Folk", "Rock", "Pop"],
            "p_given": [0.02, 0.3, 0.1],
            "p_suggested": [0.9, 0.6, 0.8],
        }
    )
    result = CheckResult("labels", "suspected_mislabels", "WARN", "3 flagged", evidence=table)
    restored = CheckResult.from_dict(result.to_dict())  # as checks.json gives it back
    cards = sort_cards(cards_from_checks([restored], labelled=[5, 7]))  # 9: not labelled
    assert [(c.track, c.kind, c.score) for c in cards] == [
        ("5", "mislabel", 0.98),
        ("7", "mislabel", 0.7),
    ]
    assert "Rock p = 0.02" in cards[0].evidence and "suggests Folk" in cards[0].evidence
    assert [c.suggested for c in cards] == ["Folk", "Rock"]  # the page's relabel list starts there


def test_a_run_on_the_default_root_is_reviewed_from_the_root_it_resolved(review_run, tmp_path):
    """`fma-harness run` without --root (make run) records root = None and the root it made."""
    import shutil

    run_dir, _ = review_run
    copy = shutil.copytree(run_dir, tmp_path / "run", ignore=shutil.ignore_patterns("review"))
    manifest = RunLayout(copy).manifest
    recorded = json.loads(manifest.read_text("utf-8"))
    recorded["config"]["resolved_root"] = recorded["config"]["root"]
    recorded["config"]["root"] = None
    manifest.write_text(json.dumps(recorded), "utf-8")
    page = build.review_run(copy, max_cards=3)
    assert page.path.is_file() and page.shown == 3
    del recorded["config"]["resolved_root"]
    manifest.write_text(json.dumps(recorded), "utf-8")
    result = _program("review", copy)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "names no dataset root" in result.stderr
