"""MkDocs hook: the reference pages that are generated, so that they cannot drift from the code.

``reference/cli.md`` is rendered from the typer app itself (click's command tree: every
command, its help, every argument and option with its type, default and help) and
``reference/checks.md`` from the check registry (:data:`harness.checks.registry.BUILTIN_CHECKS`:
each family's module docstring, and the checks its ``CheckResult`` calls name, with their
verdicts and what to do, read from the module's source without running it). Both are added
as generated files in ``on_files``; ``on_page_content`` drops the Sphinx role names
(``:func:``) of the docstrings mkdocstrings renders. ``mkdocs.yml`` names this file under
``hooks:``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from checks_page import checks_markdown  # noqa: E402
from cli_page import cli_markdown  # noqa: E402

# numpydoc docstrings cross-reference with Sphinx roles (:func:`x`), which Markdown renders as
# ":func:" before the code span; the pages show the code span alone
SPHINX_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):<code>~?([^<]*)</code>")

GENERATED = {
    "reference/cli.md": lambda: cli_markdown(),
    "reference/checks.md": lambda: checks_markdown(),
}


def on_files(files, config):
    """Add the generated reference pages to the site's files."""
    from mkdocs.structure.files import File

    for src_uri, render in GENERATED.items():
        existing = files.get_file_from_path(src_uri)  # the stand-in committed for the README
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, src_uri, content=render()))
    return files


def on_page_content(html, page, config, files):
    """Drop the Sphinx role names that docstrings rendered by mkdocstrings carry."""
    return SPHINX_ROLE.sub(r"<code>\1</code>", html)
