"""The install step that byte-compiles what a run imports (pip installs with --no-compile)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bytecode_is_written_even_where_writing_is_off(tmp_path):
    prefix = tmp_path / "pycache"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(prefix)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bytecode.py")],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "byte-compiled the" in result.stdout
    written = {p.name.split(".")[0] for p in prefix.rglob("*.pyc")}
    # the run's pipeline, a feature worker, a check target, a model factory and the libraries
    assert {"pipeline", "worker", "mislabels", "cnn", "logistic", "pyplot"} <= written
    assert {"convert_frame", "rank"} <= written  # torch's optimisers and cleanlab, loaded lazily
    assert any(p.parent.name == "run" for p in prefix.rglob("pipeline.*.pyc"))
