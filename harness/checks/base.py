"""The result of one check, and the helpers every family of checks shares.

A check answers one question about the data or the models with a :class:`CheckResult`: a
verdict (``PASS``, ``WARN``, ``FAIL`` or ``SKIP``), a one-line finding, the evidence (a dict of
counts, a table of track ids, or a sentence), what to do about it, and optional figures (PNG
bytes). ``to_dict`` / ``from_dict`` make a list of results round-trip through ``checks.json``:
a DataFrame is stored as records with its column order and index names, a figure as base64 PNG.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import DataError, ParameterError
from harness.storage import write_text_atomic

VERDICTS = ("PASS", "WARN", "FAIL", "SKIP")
# Severity order used for summaries: the worst verdict of a group wins.
SEVERITY = {"FAIL": 3, "WARN": 2, "PASS": 1, "SKIP": 0}
DEFAULT_MAX_ROWS = 25
FAMILY_ORDER = (
    "failures",  # models that failed: the first thing a report says
    "audio",
    "duplicates",
    "leakage",
    "labels",
    "features",
    "model sanity",
    "results",
    "truth",
)


@dataclass
class CheckResult:
    """One check's answer.

    Attributes
    ----------
    family : str
        Family of checks (``audio``, ``duplicates``, ``leakage``, ``labels``, ``features``,
        ``model sanity``, ``results``).
    name : str
        Short stable identifier of the check within its family (e.g. ``decode_status``).
    verdict : str
        One of ``PASS``, ``WARN``, ``FAIL``, ``SKIP``.
    finding : str
        One line saying what was found.
    evidence : dict or pd.DataFrame or str
        Counts, a table (track ids, pairs, per-class rows) or a sentence.
    action : str
        What to do about it (empty when nothing is needed).
    figures : list of bytes
        PNG images.
    """

    family: str
    name: str
    verdict: str
    finding: str
    evidence: dict | pd.DataFrame | str = ""
    action: str = ""
    figures: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ParameterError(
                f"check {self.family}/{self.name}: verdict '{self.verdict}' is not one of "
                f"{', '.join(VERDICTS)}"
            )

    @property
    def key(self) -> str:
        """``family/name``, unique within a report."""
        return f"{self.family}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tables as records, figures as base64 PNG)."""
        return {
            "family": self.family,
            "name": self.name,
            "verdict": self.verdict,
            "finding": self.finding,
            "evidence": _evidence_to_json(self.evidence),
            "action": self.action,
            "figures": [base64.b64encode(png).decode("ascii") for png in self.figures],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            family=data["family"],
            name=data["name"],
            verdict=data["verdict"],
            finding=data.get("finding", ""),
            evidence=_evidence_from_json(data.get("evidence", "")),
            action=data.get("action", ""),
            figures=[base64.b64decode(s) for s in data.get("figures", [])],
        )


def to_jsonable(value: Any) -> Any:
    """Convert numpy / pandas scalars and containers into plain JSON values (NaN -> None)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Index)):
        return [to_jsonable(v) for v in list(value)]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    if value is None or isinstance(value, (str, int)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _evidence_to_json(evidence: Any) -> Any:
    if isinstance(evidence, pd.Series):
        evidence = evidence.to_frame()
    if isinstance(evidence, pd.DataFrame):
        names = [n if n is not None else "index" for n in evidence.index.names]
        has_index = not isinstance(evidence.index, pd.RangeIndex)
        frame = evidence.reset_index(names=names) if has_index else evidence
        frame.columns = [str(c) for c in frame.columns]
        return {
            "__table__": True,
            "columns": list(frame.columns),
            "index": names if has_index else [],
            "records": to_jsonable(frame.to_dict(orient="records")),
        }
    return to_jsonable(evidence)


def _evidence_from_json(evidence: Any) -> Any:
    if isinstance(evidence, dict) and evidence.get("__table__"):
        frame = pd.DataFrame.from_records(evidence["records"], columns=evidence["columns"])
        if evidence["index"]:
            frame = frame.set_index(evidence["index"])
        return frame
    return evidence


def save_checks(results: Iterable[CheckResult], path: Path) -> Path:
    """Write results to ``path`` (``checks.json``) as a JSON list; returns the path."""
    path = Path(path)
    payload = [r.to_dict() for r in results]
    write_text_atomic(path, json.dumps(payload, indent=1))
    return path


def load_checks(path: Path) -> list[CheckResult]:
    """Read a ``checks.json`` written by :func:`save_checks`."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"{path}: checks file not found; run `fma-harness check` first") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); delete it and rerun the checks") from exc
    if not isinstance(payload, list):
        raise DataError(f"{path}: expected a JSON list of checks, got {type(payload).__name__}")
    return [CheckResult.from_dict(d) for d in payload]


def worst_verdict(verdicts: Iterable[str]) -> str:
    """The most severe verdict (FAIL > WARN > PASS > SKIP); SKIP for an empty input."""
    verdicts = list(verdicts)
    if not verdicts:
        return "SKIP"
    return max(verdicts, key=lambda v: SEVERITY[v])


def summary_table(results: Sequence[CheckResult]) -> pd.DataFrame:
    """One row per check: family, name, verdict, finding (report order)."""
    return pd.DataFrame(
        {
            "family": [r.family for r in results],
            "check": [r.name for r in results],
            "verdict": [r.verdict for r in results],
            "finding": [r.finding for r in results],
        }
    )


def verdict_counts(results: Sequence[CheckResult]) -> dict[str, int]:
    """Number of results per verdict, in VERDICTS order."""
    return {v: sum(r.verdict == v for r in results) for v in VERDICTS}


def id_list(ids: Iterable[Any], *, limit: int = 12) -> str:
    """``"3 (12, 40, 77)"``-style short text listing ids, truncated after ``limit``."""
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:limit])
    more = f", ... +{len(ids) - limit}" if len(ids) > limit else ""
    return f"{len(ids)} ({shown}{more})" if ids else "0"


def skip(family: str, name: str, reason: str) -> CheckResult:
    """A SKIP result saying why the check could not run."""
    return CheckResult(family=family, name=name, verdict="SKIP", finding=reason)


def figure_png(fig: Any, *, dpi: int = 100) -> bytes:
    """Render a matplotlib figure to PNG bytes.

    The figures of :func:`new_figure` lay themselves out (legends outside the axes included), so
    no ``bbox_inches="tight"``: it draws every figure twice (a style map took 1.09 s with it
    and 0.25 s without, the same picture).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def new_figure(*, width: float = 6.0, height: float = 3.5, ncols: int = 1) -> tuple[Any, Any]:
    """A (figure, axes) pair that draws off-screen (no pyplot, no global state).

    With ``ncols > 1`` the second element is an array of axes.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, ncols)


def order_results(results: Sequence[CheckResult]) -> list[CheckResult]:
    """Results grouped by family in FAMILY_ORDER (unknown families last), stable within one."""
    rank = {f: i for i, f in enumerate(FAMILY_ORDER)}
    return sorted(results, key=lambda r: rank.get(r.family, len(rank)))


def anchor(result: CheckResult) -> str:
    """HTML id / Markdown anchor of one check."""
    return re.sub(r"[^a-z0-9]+", "-", result.key.lower()).strip("-")


def format_value(value: Any) -> str:
    """A table cell as short text (floats with 4 significant digits, lists joined)."""
    if isinstance(value, float):
        if pd.isna(value):
            return ""
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if value is None or value is pd.NA:
        return ""
    return str(value)


def evidence_frame(evidence: Any, *, max_rows: int = DEFAULT_MAX_ROWS) -> tuple[pd.DataFrame, int]:
    """Evidence as a display table with at most ``max_rows`` rows, and the number of rows cut.

    A DataFrame keeps its index as leading columns; a dict becomes two columns (item, value);
    a string gives an empty table.
    """
    if isinstance(evidence, pd.DataFrame):
        frame = evidence
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
    elif isinstance(evidence, dict) and evidence:
        frame = pd.DataFrame({"item": list(evidence), "value": list(evidence.values())})
    else:
        return pd.DataFrame(), 0
    hidden = max(0, len(frame) - max_rows)
    frame = frame.head(max_rows)
    text = {str(c): [format_value(v) for v in frame[c].tolist()] for c in frame.columns}
    return pd.DataFrame(text, columns=[str(c) for c in frame.columns]), hidden
