"""Install packages into the running interpreter's environment: with uv when it can be had,
else with pip. The arguments are pip's (``-e .``, requirements, ``--extra-index-url URL``).

Why: the Makefile's fresh install took 43 s with pip on a 2-core machine (torch 12 s, the
rest 31 s) and 7 s with uv, for the same versions. uv does not read pip's configuration, so
the indexes, wheel folders and constraints pip is configured with (a pip.conf or ``PIP_*``
variables, as ``pip config list`` shows them) are passed on to it, and its index strategy is
pip's: the best version over all indexes. When uv cannot be fetched, or its install fails, pip
installs with the same arguments.

Usage: ``python tools/install.py [--check-import soundfile,torch] "torch==2.13.0" -e .``:
after uv's install each module named there must import in a new interpreter of the
environment, or its distribution is reinstalled with pip (:func:`repair_with_pip`), the
import's error printed with it. Set ``FMA_INSTALLER=pip`` to skip uv. Standard library
only: it runs before anything is installed.
"""

from __future__ import annotations

import importlib.metadata
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

PIP = [sys.executable, "-m", "pip"]
# pip's settings that decide where packages come from, and uv's flag for each
SOURCE_SETTINGS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}
# a later scope overrides an earlier one, as in pip: global, then install, then the environment
SCOPES = ("global", "install", ":env:")


def pip_settings(config_list: str) -> dict[str, str]:
    """pip's effective source settings from the text of ``pip config list``.

    Each line reads ``scope.name='value'``; the environment overrides the ``install`` section,
    which overrides ``global``. Returns {name: value} for the names pip and uv share.
    """
    found: dict[str, tuple[int, str]] = {}
    for line in config_list.splitlines():
        key, sep, value = line.partition("=")
        scope, _, name = key.rpartition(".")
        if not sep or scope not in SCOPES or name not in {*SOURCE_SETTINGS, "no-index"}:
            continue
        rank = SCOPES.index(scope)
        if rank >= found.get(name, (-1, ""))[0]:
            found[name] = (rank, value.strip().strip("'\""))
    return {name: value for name, (_, value) in found.items()}


def uv_source_args(settings: dict[str, str]) -> list[str]:
    """uv flags for pip's source settings; several values in one setting are space-separated."""
    args: list[str] = []
    for name, flag in SOURCE_SETTINGS.items():
        for value in settings.get(name, "").split():
            args += [flag, value]
    if settings.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        args.append("--no-index")
    return args


def find_uv() -> str | None:
    """uv on PATH or in this environment, else one fetched into it with pip; None if neither."""
    here = Path(sys.executable).parent / "uv"
    found = shutil.which("uv") or (str(here) if here.exists() else None)
    if found:
        return found
    # no retries and a short timeout: without a network, pip would otherwise wait minutes
    fetch = PIP + ["install", "--quiet", "--retries", "0", "--timeout", "15", "uv"]
    if subprocess.run(fetch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
        return None
    return str(here) if here.exists() else None


def install_with_uv(uv: str, packages: list[str]) -> bool:
    """Install ``packages`` with uv from pip's configured sources; True when it succeeded."""
    listed = subprocess.run(PIP + ["config", "list"], capture_output=True, text=True)
    sources = uv_source_args(pip_settings(listed.stdout))
    command = [
        uv,
        "pip",
        "install",
        "--quiet",
        "--python",
        sys.executable,
        "--index-strategy",
        "unsafe-best-match",
        *sources,
        *packages,
    ]
    return subprocess.run(command).returncode == 0


# run in a new interpreter of the environment: this process started before the install, and
# what it imported or looked up then (importlib's caches, a half-installed package) would
# decide for a module imported for the first time after it
IMPORT_CHECK = """
import importlib, sys
try:
    importlib.import_module(sys.argv[1])
except Exception as exc:  # an ImportError, or an OSError from a missing C library
    print(f"{type(exc).__name__}: {exc}".splitlines()[0])
    sys.exit(1)
"""


def broken_imports(modules: list[str]) -> dict[str, str]:
    """Those of ``modules`` that fail to import in a new interpreter of this environment, each
    with the first line of its error (an ImportError, or an OSError from a C library)."""
    broken = {}
    for module in modules:
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_CHECK, module], capture_output=True, text=True
        )
        if done.returncode:
            lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
            broken[module] = lines[-1] if lines else f"exit {done.returncode}"
    return broken


def repair_with_pip(broken: dict[str, str]) -> int:
    """Reinstall the distributions of the ``broken`` modules (module -> its import error, as
    :func:`broken_imports` gives them) with pip, whose choice of wheel may differ.

    uv takes a version's files from the first index that lists that version. Where one
    version's wheels are split over several indexes (a pure-Python soundfile wheel that needs
    a system libsndfile on one, the manylinux wheel that bundles it on another), uv can install
    one that does not load here, while pip compares the wheels of every index and picks the
    most specific.
    """
    modules = list(broken)
    owners = importlib.metadata.packages_distributions()
    dists = sorted({dist for module in modules for dist in owners.get(module, [module])})
    pinned = [_same_version(dist) for dist in dists]  # another wheel, not another version
    why = "; ".join(f"{m}: {r}" for m, r in broken.items() if r)
    print(
        f"tools/install.py: {', '.join(modules)} failed to import after uv's install"
        f"{f' ({why})' if why else ''}; reinstalling {', '.join(pinned)} with pip",
        file=sys.stderr,
    )
    command = PIP + ["install", "--quiet", "--no-compile", "--force-reinstall", "--no-deps"]
    return subprocess.run(command + pinned).returncode


def _same_version(dist: str) -> str:
    """``dist==<installed version>``, or ``dist`` when it is not installed."""
    try:
        return f"{dist}=={importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError:
        return dist


def main(packages: list[str], *, check_imports: Sequence[str] = ()) -> int:
    if os.environ.get("FMA_INSTALLER", "uv") != "pip":
        uv = find_uv()
        if uv and install_with_uv(uv, packages):
            broken = broken_imports(list(check_imports))
            return repair_with_pip(broken) if broken else 0
        reason = "uv failed (output above)" if uv else "uv could not be fetched"
        print(f"tools/install.py: {reason}; installing with pip instead", file=sys.stderr)
    command = PIP + ["install", "--quiet", "--no-compile", *packages]
    print(shlex.join(command), file=sys.stderr)
    return subprocess.run(command).returncode


if __name__ == "__main__":
    args = sys.argv[1:]
    # --check-import a,b,c: modules that must import after the install (those with C libraries)
    checks: list[str] = []
    if args[:1] == ["--check-import"]:
        checks, args = args[1].split(","), args[2:]
    sys.exit(main(args, check_imports=checks))
