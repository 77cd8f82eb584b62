"""Files crafted to run code, for the tests of every reader (test_bundle_trust.py,
test_ensemble.py): a pickle that creates a marker file, checksums recomputed as a sender would,
and the CLI run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.bundles.bundle import sha256_file


class Payload:
    """Unpickled, it opens (creates) ``marker``: a stand-in for any code a sender could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def reseal(folder: Path) -> None:
    """Recompute every sha256 of ``folder/manifest.json``, as a sender would."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"] = {name: sha256_file(folder / name) for name in manifest["files"]}
    path.write_text(json.dumps(manifest))


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_refused_in_one_line(done: subprocess.CompletedProcess, *needles: str) -> str:
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
