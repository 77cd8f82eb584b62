"""The examples of README.md and docs/: found, parsed against the command line, and run.

A fenced block of ``bash``, ``shell``, ``sh`` or ``python`` is an example; ``toml`` blocks are
examples when marked ``run.toml``. The HTML comment on the line right before a block says how
it is checked::

    <!-- example: parse-only (needs a real FMA download) -->

- no comment: the block runs (shell blocks with ``bash -euo pipefail``, Python blocks with this
  interpreter), every block of a page in order in one working directory;
- ``parse-only (why)``: each ``fma-harness ...`` command of a shell block is parsed by the
  command line itself (click's ``make_context`` down the command tree, the same parsing as a
  real call, with nothing run), and a Python block is compiled;
- ``run.toml``: the block is read as a run.toml and its models and ``[params.NAME]`` settings
  are checked as ``fma-harness run --config`` checks them before any work.

Every ``fma-harness`` command of every shell block is also parsed before anything runs, so an
option that does not exist fails with its page and line even in a block that runs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<lang>[\w.+-]*)[^\n]*\n(?P<code>.*?)^(?P=indent)```", re.M | re.S
)
MARKER = re.compile(r"<!--\s*example:\s*(?P<mode>[\w.-]+)(?P<why>[^>]*)-->\s*$")
SHELL = {"bash", "shell", "sh"}
RUN, PARSE_ONLY, RUN_TOML = "run", "parse-only", "run.toml"
MODES = (RUN, PARSE_ONLY, RUN_TOML)
REDIRECTS = {">", ">>", "<", "2>", "2>>", "&>"}
SEPARATORS = {";", "&&", "||", "|", "&", "do", "then", "else", "(", ")"}


@dataclass(frozen=True)
class Example:
    """One fenced block: where it is, its language, how it is checked and its code."""

    path: str
    line: int
    lang: str
    mode: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def extract(text: str, path: str = "<markdown>") -> list[Example]:
    """The examples of one Markdown text, in order."""
    examples = []
    for match in FENCE.finditer(text):
        lang = match["lang"].lower()
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        mode = marker["mode"] if marker else RUN
        if mode not in MODES:
            raise ValueError(f"{path}:{line}: unknown example mode {mode!r}; one of {MODES}")
        if lang == "toml" and mode != RUN_TOML:
            continue
        if lang not in SHELL | {"python", "toml"}:
            continue
        code = "\n".join(row[len(match["indent"]) :] for row in match["code"].splitlines())
        examples.append(Example(path, line, lang, mode, code + "\n"))
    return examples


def harness_commands(code: str) -> list[list[str]]:
    """The argument lists of every ``fma-harness`` call in a shell block (also as
    ``python -m harness`` or under ``torchrun ... -m harness``); shell variables read as 0."""
    joined = code.replace("\\\n", " ")
    commands = []
    for row in joined.splitlines():
        lexer = shlex.shlex(row, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError as exc:
            raise ValueError(f"cannot split {row!r} into words: {exc}") from exc
        segment: list[str] = []
        redirect = False
        for token in [*tokens, ";"]:
            if redirect or token in REDIRECTS:  # a redirection and its file are not arguments
                redirect = not redirect
                continue
            if token in SEPARATORS:
                if segment:
                    found = _harness_args(segment)
                    if found is not None:
                        commands.append(found)
                segment = []
            else:
                segment.append(re.sub(r"\$\{?\w+\}?", "0", token))
    return commands


def _harness_args(words: list[str]) -> list[str] | None:
    while words and re.match(r"^\w+=", words[0]):  # VAR=value before the command
        words = words[1:]
    if not words:
        return None
    if Path(words[0]).name == "fma-harness":
        return words[1:]
    if "-m" in words:
        i = words.index("-m")
        if i + 1 < len(words) and words[i + 1] == "harness":
            return words[i + 2 :]
    return None


def parse_command(args: list[str]) -> str:
    """Parse ``fma-harness ARGS`` as a real call would, running nothing; "" or the error."""
    import typer

    from harness.cli import app, hoist_verbosity

    args = hoist_verbosity(list(args))
    if "--help" in args or "--version" in args:
        return ""
    command = typer.main.get_command(app)
    try:
        ctx = command.make_context("fma-harness", args, resilient_parsing=False)
        while hasattr(command, "commands"):
            protected = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
            rest = [*protected, *ctx.args]
            if not rest:
                return "no command given"
            name, command, rest = command.resolve_command(ctx, rest)
            ctx = command.make_context(name, rest, parent=ctx, resilient_parsing=False)
        if ctx.args:
            return f"unexpected extra arguments {ctx.args}"
    except Exception as exc:  # click's usage errors, typer's own, a bad parameter value
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return f"{type(exc).__name__}: {message}"
    return ""


def parse_problems(example: Example) -> list[str]:
    """What is wrong with an example without running it: unknown commands and options, a
    Python syntax error, a run.toml the run would refuse."""
    if example.lang in SHELL:
        problems = []
        for args in harness_commands(example.code):
            error = parse_command(args)
            if error:
                problems.append(f"{example.where}: fma-harness {shlex.join(args)}: {error}")
        return problems
    if example.lang == "python":
        try:
            compile(example.code, example.where, "exec")
        except SyntaxError as exc:
            return [f"{example.where}: {exc}"]
        return []
    return toml_problems(example)


def toml_problems(example: Example) -> list[str]:
    """A run.toml example read and checked as ``run --config`` checks it before any work."""
    import tempfile

    from harness.config.preflight import check_model_names, check_model_settings
    from harness.config.validation import load_config
    from harness.errors import HarnessError

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.toml"
        path.write_text(example.code)
        try:
            config = load_config(path)
            check_model_names(config)
            check_model_settings(config)
        except HarnessError as exc:
            return [f"{example.where}: {exc}"]
    return []


def run_example(example: Example, cwd: Path, *, timeout: float = 600) -> str:
    """Run one example in ``cwd``; "" or what went wrong (exit code and the output's end)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.update({"NO_COLOR": "1", "COLUMNS": "120", "PYTHONPATH": str(cwd)})
    if example.lang in SHELL:
        argv = ["bash", "-euo", "pipefail", "-c", example.code]
    else:
        script = cwd / f"example_{example.line}.py"
        script.write_text(example.code)
        argv = [sys.executable, str(script)]
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode == 0:
        return ""
    tail = (done.stdout + done.stderr)[-2000:]
    return f"{example.where}: exit code {done.returncode}\n{tail}"
