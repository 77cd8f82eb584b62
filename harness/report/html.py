"""The self-contained HTML page of a report: inline CSS, figures as base64 PNG, no scripts.

Every text is HTML-escaped; nothing is fetched from the network, so the page opens the same
offline, from an e-mail attachment or from a CI artefact.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from harness.checks.base import (
    CheckResult,
    anchor,
    evidence_frame,
    order_results,
    summary_table,
    verdict_counts,
    worst_verdict,
)
from harness.run_layout import IN_RUN

CSS = """
:root { --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --skip: #6e7781; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
  margin: 0; background: #f6f8fa; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; background: #fff;
  min-height: 100vh; }
h1 { font-size: 26px; margin: 0 0 8px; }
h2 { font-size: 20px; margin: 36px 0 12px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 0 0 6px; display: flex; gap: 10px; align-items: center; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; color: #59636e;
  font-size: 13px; margin: 8px 0 16px; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
.badge { display: inline-block; min-width: 48px; text-align: center; padding: 1px 8px;
  border-radius: 12px; color: #fff; font-size: 12px; font-weight: 700; letter-spacing: .03em; }
.PASS { background: var(--pass); } .WARN { background: var(--warn); }
.FAIL { background: var(--fail); } .SKIP { background: var(--skip); }
.counts { display: flex; gap: 12px; margin: 12px 0 4px; flex-wrap: wrap; }
.counts .box { border: 1px solid var(--line); border-radius: 8px; padding: 6px 14px; }
.counts .n { font-size: 22px; font-weight: 700; margin-right: 6px; }
section.check { border: 1px solid var(--line); border-left: 6px solid var(--skip);
  border-radius: 6px; padding: 12px 16px; margin: 14px 0; }
section.check.v-PASS { border-left-color: var(--pass); }
section.check.v-WARN { border-left-color: var(--warn); }
section.check.v-FAIL { border-left-color: var(--fail); }
.family { color: #59636e; font-weight: 400; font-size: 13px; }
.finding { margin: 4px 0 8px; }
.action { background: #fff8c5; border-radius: 4px; padding: 6px 10px; margin: 8px 0; }
.note { color: #59636e; font-size: 13px; margin: 4px 0; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
tr:nth-child(even) td { background: #fbfcfd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.summary td:nth-child(3) { text-align: center; }
figure { margin: 10px 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def html_table(frame: pd.DataFrame, *, css_class: str = "", raw_columns: Sequence[str] = ()) -> str:
    """An HTML table of a display frame (all cells text); ``raw_columns`` are not escaped."""
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            text = str(value)
            if column in raw_columns:
                cells.append(f"<td>{text}</td>")
            elif text in {"PASS", "WARN", "FAIL", "SKIP"}:
                cells.append(f'<td><span class="badge {text}">{text}</span></td>')
            else:
                cls = ' class="num"' if text and _is_number(text) else ""
                cells.append(f"<td{cls}>{_esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cls = f' class="{css_class}"' if css_class else ""
    return (
        f'<div class="scroll"><table{cls}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _check_section(result: CheckResult, *, max_rows: int) -> str:
    parts = [
        f'<section class="check v-{result.verdict}" id="{anchor(result)}">',
        f'<h3><span class="badge {result.verdict}">{result.verdict}</span>{_esc(result.name)}'
        f'<span class="family">{_esc(result.family)}</span></h3>',
        f'<p class="finding">{_esc(result.finding)}</p>',
    ]
    if isinstance(result.evidence, str) and result.evidence:
        parts.append(f'<p class="note">{_esc(result.evidence)}</p>')
    frame, hidden = evidence_frame(result.evidence, max_rows=max_rows)
    if len(frame.columns):
        parts.append(html_table(frame))
        if hidden:
            parts.append(f'<p class="note">... {hidden} more rows in {IN_RUN.report_json}</p>')
    if result.action:
        parts.append(f'<p class="action"><strong>Action:</strong> {_esc(result.action)}</p>')
    for i, png in enumerate(result.figures):
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f'<figure><img alt="{_esc(result.name)} figure {i + 1}" '
            f'src="data:image/png;base64,{data}"></figure>'
        )
    parts.append("</section>")
    return "\n".join(parts)


def render_html(
    results: Sequence[CheckResult],
    *,
    title: str,
    meta: dict[str, Any] | None = None,
    max_rows: int = 25,
) -> str:
    """The whole report as one HTML document (results already in report order)."""
    results = order_results(results)
    counts = verdict_counts(results)
    overall = worst_verdict(r.verdict for r in results)
    meta_html = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in (meta or {}).items())
    boxes = "".join(
        f'<div class="box"><span class="n">{n}</span><span class="badge {v}">{v}</span></div>'
        for v, n in counts.items()
    )
    summary = summary_table(results)
    summary["check"] = [f'<a href="#{anchor(r)}">{_esc(r.name)}</a>' for r in results]
    body = [
        f"<h1>{_esc(title)}</h1>",
        f'<dl class="meta">{meta_html}</dl>' if meta_html else "",
        f'<p>Overall verdict: <span class="badge {overall}">{overall}</span></p>',
        f'<div class="counts">{boxes}</div>',
        "<h2>Summary</h2>",
        html_table(summary, css_class="summary", raw_columns=("check",)),
    ]
    family = None
    for result in results:
        if result.family != family:
            family = result.family
            body.append(f"<h2>{_esc(family.capitalize())}</h2>")
        body.append(_check_section(result, max_rows=max_rows))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )
