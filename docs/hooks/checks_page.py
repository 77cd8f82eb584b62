"""``reference/checks.md``: every check family of the report, from the check registry.

Each built-in family's module is read as source (:mod:`ast`, nothing is run): its docstring
says what the family tests; each ``CheckResult(FAMILY, "name", verdict, ..., action=...)`` call
names a check, the verdicts it can give (the string literals of its verdict argument, or of
the variable it names) and what to do (its ``action`` text, with ``{...}`` for the values a
run fills in), and the docstring of the function holding the call says what that check tests.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from pathlib import Path

VERDICT_WORDS = ("PASS", "WARN", "FAIL", "SKIP")


def _verdicts(node: ast.AST | None, bound: dict[str, list[ast.AST]]) -> set[str]:
    """The verdict words ``node`` can take: its literals, or those bound to its name."""
    if node is None:
        return set()
    if isinstance(node, ast.Name):
        return {v for value in bound.get(node.id, []) for v in _verdicts(value, {})}
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and n.value in VERDICT_WORDS
    }


def _first_sentence(doc: str | None) -> str:
    text = " ".join((inspect.cleandoc(doc or "")).split("\n\n")[0].split())
    return text


def _bindings(function: ast.AST) -> tuple[dict[str, list[ast.AST]], list[dict[str, ast.AST]]]:
    """What each local name of ``function`` is bound to (assignments), and the rows of its
    for-loops over a literal tuple or list (``for name, what in (("a", ...), ...)``), one dict
    of name -> value per row, so that values of one row stay together."""
    bound: dict[str, list[ast.AST]] = {}
    rows: list[dict[str, ast.AST]] = []
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound.setdefault(target.id, []).append(node.value)
    for node in ast.walk(function):
        if not isinstance(node, ast.For):
            continue
        items = node.iter
        if isinstance(items, ast.Name) and items.id in bound:
            items = bound[items.id][-1]
        if not isinstance(items, (ast.Tuple, ast.List)):
            continue
        targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
        for item in items.elts:
            values = item.elts if isinstance(item, ast.Tuple) else [item]
            if len(values) == len(targets):
                rows.append(
                    {
                        t.id: v
                        for t, v in zip(targets, values, strict=True)
                        if isinstance(t, ast.Name)
                    }
                )
    return bound, rows


def _texts(node: ast.AST | None, bound: dict[str, list[ast.AST]]) -> list[str]:
    """The strings ``node`` can be: a literal, a name bound to literals, an f-string over
    those (other interpolated values stay ``{...}``)."""
    if node is None:
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name):
        return [t for value in bound.get(node.id, []) for t in _texts(value, {})]
    if isinstance(node, ast.JoinedStr):
        texts = [""]
        for part in node.values:
            options = _texts(part.value, bound) if isinstance(part, ast.FormattedValue) else []
            if isinstance(part, ast.Constant):
                options = [part.value]
            texts = [t + o for t in texts for o in (options or ["{...}"])]
        return texts
    if isinstance(node, ast.IfExp):
        return _texts(node.body, bound) + _texts(node.orelse, bound)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in _texts(node.left, bound) for b in _texts(node.right, bound)]
    return []


def module_checks(source: str) -> dict[str, dict]:
    """The checks one family module's source names: ``name -> {about, verdicts, actions}``.

    Read from the calls ``CheckResult(family, name, verdict, ..., action=...)`` and ``skip(family,
    name, reason)``; a check whose name the code computes otherwise is not listed (its family's
    docstring describes it)."""
    tree = ast.parse(source)
    checks: dict[str, dict] = {}
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        bound, rows = _bindings(function)
        about = _first_sentence(ast.get_docstring(function))
        for call in ast.walk(function):
            callee = getattr(call, "func", None)
            callee = getattr(callee, "id", getattr(callee, "attr", ""))
            if not isinstance(call, ast.Call) or callee not in ("CheckResult", "skip"):
                continue
            args = dict(enumerate(call.args))
            keywords = {k.arg: k.value for k in call.keywords}
            for row in rows or [{}]:
                env = bound | {name: [value] for name, value in row.items()}
                verdict_node = args.get(2, keywords.get("verdict"))
                verdicts = {"SKIP"} if callee == "skip" else _verdicts(verdict_node, env)
                actions = _texts(keywords.get("action"), env)
                for name in _texts(args.get(1, keywords.get("name")), env):
                    if "{" in name:
                        continue
                    entry = checks.setdefault(
                        name, {"about": about, "verdicts": set(), "actions": []}
                    )
                    entry["verdicts"] |= verdicts
                    entry["actions"] += [a for a in actions if a not in entry["actions"]]
    return checks


def _source(module: str) -> tuple[str, str]:
    """The source and docstring of ``module``, found without importing it."""
    spec = importlib.util.find_spec(module)
    source = Path(spec.origin).read_text(encoding="utf-8")
    return source, ast.get_docstring(ast.parse(source)) or ""


def rst_to_markdown(text: str) -> str:
    """A numpydoc docstring's inline markup as Markdown: roles and double backquotes."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def family_markdown(name: str, module: str, stage: str) -> list[str]:
    """The section of one family: what it tests and a table of its checks."""
    source, doc = _source(module)
    when = "before any model is trained" if stage == "data" else "when the report is assembled"
    lines = [f"## {name}", "", f"*Stage `{stage}` ({when}); module `{module}`.*", ""]
    lines += [rst_to_markdown(inspect.cleandoc(doc)), ""]
    checks = module_checks(source)
    if checks:
        lines += ["| check | what it tests | verdicts | what to do |", "|---|---|---|---|"]
        for check, entry in checks.items():
            verdicts = ", ".join(v for v in VERDICT_WORDS if v in entry["verdicts"])
            actions = "; ".join(entry["actions"]) or "(the finding says it)"
            about = _cell(rst_to_markdown(entry["about"]))
            lines.append(f"| `{check}` | {about} | {verdicts} | {_cell(actions)} |")
        lines.append("")
    return lines


def checks_markdown() -> str:
    """The check catalogue page, one section per built-in family in report order."""
    from harness.checks.registry import BUILTIN_CHECKS

    lines = [
        "# Checks of the report",
        "",
        "Generated from the check registry (`harness/checks/registry.py`) when the site is built:"
        " one section per family, in the order the report runs them. Each check gives one of "
        "the verdicts PASS, WARN, FAIL or SKIP, a one-line finding, its evidence and what to do;"
        " the table lists, per check, the verdicts its code can give and its advice (`{...}` "
        "stands for the values of a run). `fma-harness check` runs the `data` families alone;"
        " a run's report runs them all. Your own checks: see "
        "[your own model and check](../how-to/own-model-and-check.md).",
        "",
    ]
    for entry in BUILTIN_CHECKS:
        module = entry.target.split(":")[0]
        lines += family_markdown(entry.name, module, entry.stage)
    return "\n".join(lines)
