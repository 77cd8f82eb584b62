"""Byte-compile the modules a run imports, once, when the harness is installed.

``make`` installs the dependencies with ``pip install --no-compile``: pip would otherwise
byte-compile every module of every package (torch alone has thousands, most of which the
harness never imports), which took about a third of a fresh install on two cores. Then
``python tools/bytecode.py`` imports what a run uses with bytecode writing on, so
only those modules are compiled, and every later process (the run, its generation and feature
workers) loads them compiled. Without this step each process would compile them again where
bytecode writing is off (``PYTHONDONTWRITEBYTECODE``): about 7 s more per process here.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time

# What `fma-harness run`, `predict` and the report import, beyond the harness's own modules
# (the check and model targets are listed by their registries)
RUN_MODULES = (
    "harness.cli",
    "harness.run.pipeline",
    "harness.bundles.predict",
    "harness.features.worker",
    "harness.data.synth.generate",
    "harness.report.html",
    "harness.checks.figures",
    "librosa",
    "librosa.feature",
    "librosa.effects",
    "matplotlib.pyplot",
    "joblib.externals.loky",
)
# imported on first use, in every training process and the main one: torch's optimisers load
# torch._dynamo (and sympy with it: 7.8 s to compile, in each process, in a fresh clone), the
# mislabel check loads cleanlab's ranking. A second process compiles these while the first
# compiles the rest: both compile torch's core, but on two cores the step takes the longer of the
# two instead of their sum
SIDE_MODULES = ("torch._dynamo", "cleanlab.count", "cleanlab.rank")


def import_modules(names) -> None:
    """Import ``names``, writing their bytecode."""
    sys.dont_write_bytecode = False  # this process exists to write it
    for name in names:
        importlib.import_module(name)


def import_run_modules() -> None:
    """Import :data:`RUN_MODULES`, every built-in check and every registered model's factory,
    writing their bytecode."""
    import_modules(RUN_MODULES)
    from harness.checks.registry import BUILTIN_CHECKS
    from harness.registry import get_entry, load_target, names

    for entry in BUILTIN_CHECKS:
        load_target(entry.target)
    for name in names():
        load_target(get_entry(name).target)


def main(argv: list[str]) -> None:
    """Compile :data:`SIDE_MODULES` in a second process and the rest here; ``--side`` is that
    second process."""
    if argv == ["--side"]:
        import_modules(SIDE_MODULES)
        return
    started = time.perf_counter()
    side = subprocess.Popen([sys.executable, __file__, "--side"])
    import_run_modules()
    if side.wait() != 0:
        raise SystemExit(f"compiling {', '.join(SIDE_MODULES)} failed (exit {side.returncode})")
    seconds = time.perf_counter() - started
    print(f"byte-compiled the modules a run imports in {seconds:.0f} s (two processes)")


if __name__ == "__main__":
    main(sys.argv[1:])
