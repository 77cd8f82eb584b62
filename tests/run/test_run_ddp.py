"""`torchrun -m harness train cnn --ddp`: two CPU ranks (gloo) through the real CLI."""

import subprocess
import sys

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def test_torchrun_trains_one_model_and_rank0_alone_writes(synth_root, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(
        f'cache_dir = "{tmp_path / "cache"}"\nsubmissions_dir = "{tmp_path / "subs"}"\n'
        "n_jobs = 1\n[params.cnn]\nepochs = 2\nchunk_frames = 64\nn_eval_chunks = 2\n"
        "model_params = { channels = [4, 8, 8, 8] }\n"
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "harness",
        "train",
        "cnn",
        "--ddp",
        "--fma-root",
        str(synth_root),
        "--config",
        str(config),
        "--out",
        str(tmp_path / "runs"),
        "--device",
        "cpu",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dirs = list((tmp_path / "runs").iterdir())
    assert len(run_dirs) == 1  # both ranks used rank 0's run id
    board = pd.read_csv(run_dirs[0] / "leaderboard.csv").set_index("model")
    assert board.loc["cnn", "status"] == "ok"
    history = pd.read_csv(run_dirs[0] / "models" / "cnn" / "history.csv")
    assert history["epoch"].tolist() == [1, 2]
    assert done.stdout.count("Run directory:") == 2  # rank 0 alone: at the start and the end
    assert not list((tmp_path / "cache" / "checkpoints").glob("cnn-*"))


def test_ddp_without_torchrun_says_how_to_launch(synth_root, tmp_path):
    command = [
        sys.executable,
        "-m",
        "harness",
        "train",
        "cnn",
        "--ddp",
        "--fma-root",
        str(synth_root),
        "--out",
        str(tmp_path / "runs"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "torchrun --nproc_per_node" in done.stderr
    assert not (tmp_path / "runs").exists()
