"""report.md / report.html rendering, and `render_run` on a hand-made run directory."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from harness.checks.base import CheckResult, figure_png, new_figure, save_checks
from harness.report.markdown import render_run, write_report

VOID = {"meta", "img", "br", "hr", "link", "input"}


class TagChecker(HTMLParser):
    """Fails on unbalanced tags; collects img sources and external references."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[str] = []
        self.ids: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def parse(html: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(html)
    checker.close()
    return checker


def _results() -> list[CheckResult]:
    fig, ax = new_figure(width=2, height=2)
    ax.bar([0, 1], [1, 2])
    long = pd.DataFrame({"track_id": range(40), "status": "short"})
    return [
        CheckResult("labels", "class_distribution", "PASS", "8 classes", {"classes": 8}),
        CheckResult("audio", "decode_status", "FAIL", "40 <bad> & short", long, "re-download"),
        CheckResult("features", "shift", "WARN", "drift", "a | pipe", figures=[figure_png(fig)]),
    ]


def test_write_report_md_and_html(tmp_path):
    md_path, html_path = write_report(_results(), tmp_path, title="T", meta={"root": "x"})
    md = md_path.read_text("utf-8")
    html = html_path.read_text("utf-8")
    # summary first, families in checklist order, long tables trimmed
    assert md.index("## Summary") < md.index("## Audio") < md.index("## Labels")
    assert "*... 15 more rows in report.json*" in md  # and they are there
    records = {r["name"]: r for r in json.loads((tmp_path / "report.json").read_text("utf-8"))}
    assert len(records["decode_status"]["evidence"]["records"]) == 40
    assert records["shift"]["figures"] == ["figures/features-shift-1.png"]
    assert "**Overall: FAIL**" in md
    assert (tmp_path / "figures" / "features-shift-1.png").exists()
    assert "![shift](figures/features-shift-1.png)" in md
    checker = parse(html)
    assert checker.errors == [] and checker.stack == []
    assert len(checker.images) == 1 and checker.images[0].startswith("data:image/png;base64,")
    assert "&lt;bad&gt; &amp; short" in html  # escaped
    assert not re.search(r"(src|href)=\"(https?:)?//", html) and "<script" not in html
    assert {h[1:] for h in checker.hrefs} <= set(checker.ids)  # every summary link resolves
    assert html.index("Summary") < html.index('id="audio-decode-status"')


def _fake_run(run_dir, rng) -> None:
    classes = np.array(["Folk", "Pop", "Rock"])
    y = rng.choice(classes, size=60)
    onehot = (y[:, None] == classes[None, :]).astype(float)
    for name, skill in (("logreg", 0.6), ("cnn", 0.8)):
        model_dir = run_dir / "models" / name
        model_dir.mkdir(parents=True)
        proba = skill * onehot + (1 - skill) * rng.dirichlet(np.ones(3), size=60)
        np.savez_compressed(
            model_dir / "predictions_test.npz",
            keys=np.arange(60).astype(str),
            y_true=y,
            classes=classes,
            proba=proba,
            proba_calibrated=0.5 * proba + 0.5 / 3,
        )
    sanity = [
        {"name": "init_loss", "passed": True, "value": 1.1, "expected": 1.0986, "detail": "ok"},
        {"name": "overfit_batch", "passed": False, "value": 0.9, "expected": "< 0.1", "detail": ""},
    ]
    (run_dir / "models" / "cnn" / "sanity.json").write_text(json.dumps(sanity), "utf-8")
    history = pd.DataFrame(
        {"epoch": [1, 2, 3], "train_loss": [1.0, 0.5, 0.1], "val_log_loss": [1.0, 0.8, 0.9]}
    )
    history.to_csv(run_dir / "models" / "cnn" / "history.csv", index=False)
    save_checks([CheckResult("audio", "decode_status", "PASS", "all ok")], run_dir / "checks.json")
    (run_dir / "manifest.json").write_text(json.dumps({"started": "t0", "config": {"seed": 3}}))


@pytest.mark.slow
def test_render_run(tmp_path):
    run_dir = tmp_path / "run1"
    _fake_run(run_dir, np.random.default_rng(0))
    md_path, html_path = render_run(run_dir)
    md = md_path.read_text("utf-8")
    for section in (
        "## Model sanity",
        "## Results",
        "comparison",
        "per_class_f1",
        "confusion_matrices",
        "calibration",
        "learning_curves",
        "cnn_train_val_gap",
    ):
        assert section in md, section
    assert "overfit_batch" in md and "### cnn — FAIL" in md
    assert "uniform" in md and "prior (evaluated split's frequencies)" in md
    checker = parse(html_path.read_text("utf-8"))
    assert checker.errors == []
    # comparison + 2 confusion + 2 reliability + 1 learning curve
    assert len(checker.images) == 6
    assert "**seed**: 3" in md


@pytest.mark.slow
def test_render_run_side_by_side_writes_the_report_of_one_at_a_time(tmp_path):
    pages = []
    for n_jobs in (1, 2):
        run_dir = tmp_path / f"run-{n_jobs}"
        _fake_run(run_dir, np.random.default_rng(0))
        _, html_path = render_run(run_dir, n_jobs=n_jobs)
        pages.append(html_path.read_text("utf-8").replace(run_dir.name, "RUN"))
    assert pages[0] == pages[1]
    assert len(parse(pages[1]).images) == 6  # the figures are drawn in the worker processes
