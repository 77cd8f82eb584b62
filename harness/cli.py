"""The `fma-harness` command line: thin wrappers that parse, call the library and print.

Each family of subcommands lives in ``harness/commands/<family>.py`` and exposes
``register(app)``; the option names they share (``--root``, ``--cache-dir``, ...) come from
:mod:`harness.commands.options`. This module only assembles them, adds ``--version``, and turns
a :class:`HarnessError` into one clean line on stderr and exit code 1 (never a traceback for a
user mistake).

Exit codes of ``fma-harness run`` and ``fma-harness train``:

- 0: every model trained; leaderboard, submissions and report written.
- 1: a user error (:class:`HarnessError`), found before any work: one line on stderr naming
  the option, the value, what was expected and what to do.
- 2: a usage error (typer/click: an unknown option, a value of the wrong type).
- 3: the run finished but some models failed: their leaderboard rows, ``error.txt`` files and
  the report (a FAIL at its top) are written, and the last line on stderr names them.

Other commands use 0, 1 and 2 the same way (``validate`` exits 2 for an invalid submission);
``predict`` exits 4 when some files failed to decode and 5 when its ``--budget`` ran out (their
rows hold the training prior; the output is complete); 130 is an interrupted command.
"""

from __future__ import annotations

import importlib
import sys
from importlib import metadata
from typing import Annotated

import typer

from harness import __version__, log
from harness.errors import HarnessError

COMMAND_MODULES = (
    "data",
    "features",
    "scoring",
    "checks",
    "run",
    "predict",
    "pretrained",
    "compare",
    "review",
)

APP_EPILOG = """Examples:

  fma-harness run                         # synthetic FMA, every model, submissions and report

  fma-harness check --root ~/fma --subset medium

  fma-harness models                      # the models --models accepts

  fma-harness --quiet run                 # warnings, errors and the leaderboard only

Every command takes --help with its own examples; the same option means the same thing in every
command (--root, --subset, --cache-dir, --out, --seed, --n-jobs, --device, --test-dir).
"""

app = typer.Typer(
    name="fma-harness",
    help="Genre recognition on the Free Music Archive: data, features, models, scoring, reports.",
    epilog=APP_EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def installed_version() -> str:
    """The installed distribution's version (what ``pip show fma-harness`` says, and what the
    manifests record); ``harness.__version__`` when the sources run without being installed."""
    try:
        return metadata.version("fma-harness")
    except metadata.PackageNotFoundError:
        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"fma-harness {installed_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Only warnings, errors and results (any command)."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also print details (any command).")
    ] = False,
) -> None:
    # no docstring: the app's help above is the help of `fma-harness --help`
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other")
    log.set_verbosity(log.QUIET if quiet else log.VERBOSE if verbose else log.NORMAL)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"harness.commands.{name}").register(app)


_register_all()


VERBOSITY_FLAGS = ("--quiet", "-q", "--verbose", "-v")


def hoist_verbosity(args: list[str]) -> list[str]:
    """``args`` with ``--quiet``/``--verbose`` (and ``-q``/``-v``) moved before the command, so
    that ``fma-harness run --quiet`` means ``fma-harness --quiet run``: they are the app's
    options, and click only reads an option before the command it belongs to. Tokens after a
    ``--`` are left alone."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in VERBOSITY_FLAGS]
    rest = [a for a in args[:end] if a not in VERBOSITY_FLAGS]
    return flags + rest + args[end:]


def main() -> None:
    """Console-script entry point."""
    try:
        # standalone_mode=False returns a typer.Exit's code instead of exiting with it
        rc = app(args=hoist_verbosity(sys.argv[1:]), standalone_mode=False)
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
