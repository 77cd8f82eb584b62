"""``reference/cli.md``: every command and option of ``fma-harness``, from its click tree.

typer (0.20 and later) builds the tree from its own copy of click, so the commands and
parameters are read by their attributes (``commands``, ``params``, ``param_type_name``), and
each parameter's type and help are asked of it in a context of its command, as ``--help`` does.
"""

from __future__ import annotations

import inspect
from typing import Any


def _cell(text: object) -> str:
    """``text`` as one Markdown table cell (no newline, no bare ``|``)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _context(command: Any, name: str, parent: Any = None) -> Any:
    """A parsing context of ``command`` with no arguments (required ones may be missing)."""
    return command.make_context(name, [], parent=parent, resilient_parsing=True)


def _type_name(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False):
        return "flag"
    shown = param.display_type(ctx) if hasattr(param, "display_type") else param.type.name
    shown = str(shown).strip("<>")
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None or high is not None:
        shown = f"{shown} [{'' if low is None else low}, {'' if high is None else high}]"
    return _cell(shown)


def _default(param: Any) -> str:
    default = param.default
    if callable(default) or default is None or default == () or default is False:
        return ""
    if isinstance(default, (list, tuple)):
        default = ",".join(map(str, default))
    return f"`{_cell(default)}`"


def _names(param: Any) -> str:
    if param.param_type_name == "argument":
        return f"`{param.name.upper()}`"
    return ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])


def _help_text(command: Any) -> tuple[str, str]:
    """The help's first paragraph, and the rest (examples, details) as ``--help`` prints it."""
    text = inspect.cleandoc(command.help or "")
    text = "\n".join(line for line in text.splitlines() if line.strip() != "\b")
    first, _, rest = text.partition("\n\n")
    return " ".join(first.split()), rest.strip("\n")


def command_markdown(path: list[str], command: Any, ctx: Any) -> list[str]:
    """The section of one command: its usage, help and parameters."""
    lines = [f"## `{' '.join(path)}`", ""]
    summary, rest = _help_text(command)
    if summary:
        lines += [summary, ""]
    params = [p for p in command.params if not getattr(p, "hidden", False)]
    arguments = [p.name.upper() for p in params if p.param_type_name == "argument"]
    usage = " ".join([*path, "[OPTIONS]", *arguments])
    if hasattr(command, "commands"):
        usage = " ".join([*path, "COMMAND", "[ARGS]..."])
    lines += ["```text", usage, "```", ""]
    if rest:
        lines += ["```text", rest, "```", ""]
    if params:
        lines += ["| argument or option | type | default | help |", "|---|---|---|---|"]
        for param in params:
            helptext = getattr(param, "help", None) or ""
            if getattr(param, "required", False):
                helptext = f"{helptext} (required)".strip()
            cells = (_names(param), _type_name(param, ctx), _default(param), _cell(helptext))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if command.epilog:
        lines += ["```text", inspect.cleandoc(command.epilog), "```", ""]
    return lines


def walk(command: Any, path: list[str], parent: Any = None):
    """``(path, command, context)`` of ``command`` and of every command under it."""
    ctx = _context(command, path[-1], parent)
    yield path, command, ctx
    for name in sorted(getattr(command, "commands", {})):
        yield from walk(command.commands[name], [*path, name], ctx)


def cli_markdown(root: Any = None) -> str:
    """The command-line reference page of ``root`` (default: the ``fma-harness`` app)."""
    if root is None:
        import typer

        from harness.cli import app

        root = typer.main.get_command(app)
    lines = [
        "# Command line",
        "",
        "Generated from the command line itself when this site is built: every command, its "
        "help, and every argument and option with its type, default and help. "
        "`fma-harness COMMAND --help` prints the same. Exit codes and `run.toml` are in "
        "[run.toml, errors and exit codes](configuration.md).",
        "",
    ]
    for path, command, ctx in walk(root, ["fma-harness"]):
        lines += command_markdown(path, command, ctx)
    return "\n".join(lines)
