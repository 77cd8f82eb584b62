"""The documentation site: it builds offline with --strict, its command and check references
are generated from the code (a changed help text changes the page), and the README is the
short page for users the issue asks for."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from harness.checks.registry import BUILTIN_CHECKS
from harness.cli import app

REPO = Path(__file__).resolve().parents[2]
HOOKS = REPO / "docs" / "hooks"


def hook_module(name: str):
    """A module of docs/hooks/, loaded from its file (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}", HOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built with --strict into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml", "-d", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return out


def test_site_builds_with_every_section(site):
    for page in (
        "index.html",
        "tutorial.html",
        "how-to/real-fma.html",
        "how-to/own-dataset.html",
        "how-to/own-model-and-check.html",
        "how-to/predict-and-export.html",
        "how-to/seeds-splits-robustness.html",
        "how-to/cluster-and-gpus.html",
        "reference/cli.html",
        "reference/python-api.html",
        "reference/run-folder.html",
        "reference/checks.html",
        "reference/metrics.html",
        "explanation/architecture.html",
        "explanation/models.html",
        "explanation/synthetic-set.html",
        "benchmarks.html",
    ):
        assert (site / page).is_file(), page
    # mkdocstrings rendered the API from the docstrings, the architecture page holds ARCHITECTURE.md
    api = (site / "reference/python-api.html").read_text()
    assert "harness.run.pipeline.run_pipeline" in api and "Parameters" in api
    assert "The data flow" in (site / "explanation/architecture.html").read_text()


def test_site_loads_nothing_from_the_network(site):
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert not re.search(r"<script[^>]+src=\"https?:", text), page
        assert not re.search(r"<link[^>]+href=\"https?://fonts", text), page


def test_cli_page_holds_every_command_and_option_help(site):
    page = (site / "reference/cli.html").read_text()
    root = typer.main.get_command(app)
    synth = root.commands["data"].commands["synth"]
    n_tracks = next(p for p in synth.params if p.name == "n_tracks")
    assert n_tracks.help and n_tracks.help in page
    for name, command in root.commands.items():
        assert f"fma-harness {name}" in page, name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.opts[0] in page, (name, param.opts[0])


def test_cli_page_changes_with_an_option_help_text():
    cli_page = hook_module("cli_page")
    root = typer.main.get_command(app)  # a fresh tree: changing it leaves the app alone
    run = root.commands["run"]
    seed = next(p for p in run.params if p.name == "seed")
    before = cli_page.cli_markdown(root)
    assert seed.help in before
    seed.help = "A help text the page must now show."
    after = cli_page.cli_markdown(root)
    assert "A help text the page must now show." in after
    assert before != after
    # and a new option appears with its name, type and default
    rows = [line for line in after.splitlines() if line.startswith("| `--seed`")]
    assert rows and "int" in rows[0]


def test_checks_page_lists_every_family_and_reads_the_checks_code():
    checks_page = hook_module("checks_page")
    page = checks_page.checks_markdown()
    for entry in BUILTIN_CHECKS:
        assert f"## {entry.name}\n" in page, entry.name
    # the check names, verdicts and advice come from the modules' CheckResult calls
    row = next(line for line in page.splitlines() if line.startswith("| `decode_status`"))
    assert "PASS" in row and "FAIL" in row
    source = '''
def check_tempo(inputs):
    """Every clip has a tempo."""
    verdict = "WARN" if inputs else "PASS"
    for name, what in (("tempo_known", "tempo"), ("metre_known", "metre")):
        CheckResult(FAMILY, name, verdict, f"no {what}", action=f"re-estimate the {what}")
    return skip(FAMILY, "tempo_range", "no clip")
'''
    found = checks_page.module_checks(source)
    assert set(found) == {"tempo_known", "metre_known", "tempo_range"}
    assert found["tempo_known"]["verdicts"] == {"PASS", "WARN"}
    assert found["metre_known"]["actions"] == ["re-estimate the metre"]
    assert found["tempo_range"]["verdicts"] == {"SKIP"}
    assert found["tempo_known"]["about"] == "Every clip has a tempo."


def test_readme_is_short_and_for_users():
    text = (REPO / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 150
    assert lines[0] == "# fma-harness"
    first_paragraph = text.split("\n\n")[1]
    assert "is a harness for music genre recognition" in first_paragraph
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "a date"
    hashes = re.findall(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b", text)
    assert not hashes, hashes
    assert not re.search(r"\b\d+ (passed|skipped|failed)\b", text), "a test count"
    for command in ("make run", "make test", "fma-harness --version"):
        assert command in text


def test_readme_links_point_at_pages_of_the_site():
    text = (REPO / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert any(link.startswith("docs/reference/cli.md") for link in local)
    missing = [link for link in local if not (REPO / link).is_file()]
    assert not missing, missing


def test_run_folder_page_documents_every_leaderboard_column():
    from harness.run.outputs import LEADERBOARD_COLUMNS

    page = (REPO / "docs/reference/run-folder.md").read_text()
    table = [line for line in page.splitlines() if line.startswith("| `")]
    missing = [c for c in LEADERBOARD_COLUMNS if not any(f"`{c}`" in row for row in table)]
    assert not missing, missing


def test_docstring_roles_are_shown_as_code(site):
    api = (site / "reference/python-api.html").read_text()
    assert "<code>harness.data.fma.load_tracks</code>" in api
    assert not re.search(r":(func|class|mod):<code>", api)
