"""The `fma-harness` command line: thin wrappers that parse, call the library and print.

Each family of subcommands lives in ``harness/commands/<family>.py`` and exposes
``register(app)``; this module only assembles them and turns a :class:`HarnessError` into one
clean line on stderr and exit code 1 (never a traceback for a user mistake).
"""

from __future__ import annotations

import importlib
import sys

import typer

from harness.errors import HarnessError

COMMAND_MODULES = ("data", "features", "training", "scoring", "checks", "run")

app = typer.Typer(
    name="fma-harness",
    help="Genre recognition on the Free Music Archive: data, features, models, scoring, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"harness.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"harness.commands.{name}":
                continue  # that family is not built yet
            raise
        module.register(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    try:
        # standalone_mode=False returns a typer.Exit's code instead of exiting with it
        rc = app(standalone_mode=False)
    except HarnessError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.secho("aborted", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors (typer vendors click's ClickException)
        if hasattr(exc, "show"):
            exc.show()
            sys.exit(getattr(exc, "exit_code", 2))
        raise
    sys.exit(rc if isinstance(rc, int) else 0)
