"""Render check results to ``report.md`` and one self-contained ``report.html``.

The report opens with the verdict summary (counts, then one row per check linking to it) and
then shows each check: verdict, finding, evidence (a table trimmed to ``max_rows`` rows, or a
dict of counts), the action to take and its figures. The HTML page embeds every figure as a
base64 PNG and its CSS inline, so it opens offline with no network fetch and no JavaScript; the
Markdown file refers to PNG copies written under ``figures/``.

``render_run(run_dir)`` renders everything a run directory holds: the data checks stored in
``checks.json``, then every ``"run"`` check of the registry (:mod:`harness.checks.registry`:
model sanity, results, artist errors, then users' run checks).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from harness.checks.base import (
    DEFAULT_MAX_ROWS,
    CheckResult,
    anchor,
    evidence_frame,
    load_checks,
    order_results,
    summary_table,
    verdict_counts,
    worst_verdict,
)
from harness.checks.registry import RUN, run_checks
from harness.errors import DataError
from harness.report.html import render_html
from harness.run_layout import IN_RUN, RunLayout


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-style pipe table."""
    if frame.empty and not len(frame.columns):
        return ""
    head = "| " + " | ".join(_md_escape(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_md_escape(v) for v in row) + " |" for row in frame.to_numpy()]
    return "\n".join([head, rule, *rows])


def render_markdown(
    results: Sequence[CheckResult],
    *,
    title: str,
    meta: dict[str, Any] | None = None,
    figure_paths: dict[str, list[str]] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> str:
    """The report as Markdown.

    Parameters
    ----------
    figure_paths : dict, optional
        check key -> relative paths of its PNG files (figures are omitted when not given).
    """
    results = order_results(results)
    counts = verdict_counts(results)
    lines = [f"# {title}", ""]
    for key, value in (meta or {}).items():
        lines.append(f"- **{key}**: {value}")
    lines += [
        "",
        f"**Overall: {worst_verdict(r.verdict for r in results)}** — "
        + ", ".join(f"{n} {v}" for v, n in counts.items()),
        "",
        "## Summary",
        "",
    ]
    summary = summary_table(results)
    summary["check"] = [f"[{r.name}](#{anchor(r)})" for r in results]
    lines += [markdown_table(summary), ""]
    family = None
    for result in results:
        if result.family != family:
            family = result.family
            lines += [f"## {family.capitalize()}", ""]
        lines += _markdown_check(result, figure_paths or {}, max_rows=max_rows)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_check(
    result: CheckResult, figure_paths: dict[str, list[str]], *, max_rows: int
) -> list[str]:
    lines = [
        f'<a id="{anchor(result)}"></a>',
        f"### {result.name} — {result.verdict}",
        "",
        f"**Finding:** {result.finding}",
        "",
    ]
    if isinstance(result.evidence, str) and result.evidence:
        lines += [result.evidence, ""]
    frame, hidden = evidence_frame(result.evidence, max_rows=max_rows)
    if len(frame.columns):
        lines += [markdown_table(frame), ""]
        if hidden:
            lines += [f"*... {hidden} more rows in {IN_RUN.report_json}*", ""]
    if result.action:
        lines += [f"**Action:** {result.action}", ""]
    for path in figure_paths.get(result.key, []):
        lines += [f"![{result.name}]({path})", ""]
    return lines


def write_report(
    results: Sequence[CheckResult],
    out_dir: Path,
    *,
    title: str = "fma-harness report",
    meta: dict[str, Any] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> tuple[Path, Path]:
    """Write ``report.md`` (+ ``figures/*.png``), ``report.html`` and ``report.json`` (every
    result with all its evidence rows, its figures as paths) into ``out_dir``.

    Returns
    -------
    (Path, Path)
        Paths of report.md and report.html.
    """
    layout = RunLayout(Path(out_dir))
    layout.root.mkdir(parents=True, exist_ok=True)
    results = order_results(results)
    figure_paths: dict[str, list[str]] = {}
    if any(r.figures for r in results):
        layout.figures_dir.mkdir(exist_ok=True)
    for result in results:
        for i, png in enumerate(result.figures):
            path = layout.figure(anchor(result), i + 1)
            path.write_bytes(png)
            rel = path.relative_to(layout.root).as_posix()
            figure_paths.setdefault(result.key, []).append(rel)
    md = render_markdown(
        results, title=title, meta=meta, figure_paths=figure_paths, max_rows=max_rows
    )
    html = render_html(results, title=title, meta=meta, max_rows=max_rows)
    md_path, html_path = layout.report_md, layout.report_html
    md_path.write_text(md, encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    records = [{**r.to_dict(), "figures": figure_paths.get(r.key, [])} for r in results]
    layout.report_json.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    return md_path, html_path


def render_run(
    run_dir: Path, *, max_rows: int = DEFAULT_MAX_ROWS, n_jobs: int = 1
) -> tuple[Path, Path]:
    """Render everything a run directory holds into its ``report.md`` and ``report.html``.

    Reads ``checks.json`` (data checks), ``models/<name>/sanity.json`` (neural model sanity),
    ``models/<name>/predictions_*.npz`` and ``history.csv`` (results) and ``manifest.json``;
    ``n_jobs`` as in :func:`collect_run`.
    """
    run_dir = Path(run_dir)
    results, meta = collect_run(run_dir, n_jobs=n_jobs)
    return write_report(
        results, run_dir, title=f"fma-harness report: {run_dir.name}", meta=meta, max_rows=max_rows
    )


def collect_run(run_dir: Path, *, n_jobs: int = 1) -> tuple[list[CheckResult], dict[str, Any]]:
    """Every result a run directory holds, and the report's header facts from its manifest.

    The results are the data checks stored in ``checks.json`` followed by every registered
    ``"run"`` check (:func:`harness.checks.registry.run_checks`, its built-ins in ``n_jobs``
    processes) on ``run_dir``.
    """
    run_dir = Path(run_dir)
    layout = RunLayout(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: run directory not found; pass a folder under runs/")
    if not any(path.exists() for path in layout.markers):
        names = ", ".join(path.name for path in layout.markers)
        raise DataError(f"{run_dir}: not a run directory (no {names}); pass a folder under runs/")
    results: list[CheckResult] = []
    if layout.checks.exists():
        results += load_checks(layout.checks)
    results += run_checks(RUN, run_dir, n_jobs=n_jobs)
    meta: dict[str, Any] = {"run directory": str(run_dir)}
    manifest_path = layout.manifest
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text("utf-8"))
        except ValueError as exc:  # truncated: say which file, not a traceback
            raise DataError(
                f"{manifest_path}: not a run manifest ({exc}); the run is damaged: run it again"
            ) from None
        for key in ("started", "finished"):
            if key in manifest:
                meta[key] = manifest[key]
        git = manifest.get("git") or {}
        if git.get("commit"):
            meta["git commit"] = git["commit"][:12] + (" (dirty)" if git.get("dirty") else "")
        config = manifest.get("config", {})
        own = config.get("resolved_format", "fma") != "fma"  # a folder per label or a manifest
        for key in ("resolved_root", "resolved_format", "subset", "task", "seed"):
            if key in config and not (own and key == "subset"):  # FMA's subset does not apply
                meta[key] = config[key]
    return results, meta
