"""``--seed`` outside 0 <= seed < 2**32 is one line and exit 1 before any work, in every command
that takes it (``check --seed -1`` ended in numpy's traceback)."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = [
    ["check", "--root", "{root}"],
    ["data", "synth", "--root", "{root}"],
    ["data", "splits", "--root", "{root}"],
    ["features", "--root", "{root}"],
    ["run", "--root", "{root}"],
]


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_out_of_range_seed_is_one_line_before_any_work(tmp_path, command, seed):
    root = tmp_path / "nowhere"
    args = [part.format(root=root) for part in command]
    done = subprocess.run(
        [sys.executable, "-m", "harness", *args, "--seed", seed],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--seed {seed}" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not root.exists()  # nothing was generated or written
