"""Run manifests record provenance and are written atomically."""

import json

import torch

from harness.run.manifest import build_manifest, sha1_file, utc_now
from harness.storage import write_json_atomic


def test_manifest_has_provenance_fields(tmp_path):
    data = tmp_path / "tracks.csv"
    data.write_bytes(b"abc")
    assert sha1_file(data) == "a9993e364706816aba3e25717850c26c9cd0d89d"
    manifest = build_manifest(
        config={"seed": 3},
        seeds={"seed": 3},
        data_checksums={"tracks.csv": sha1_file(data)},
        cache_keys={"mfcc": "k"},
        started=utc_now(),
        argv=["fma-harness", "run"],
    )
    for key in ("argv", "config", "seeds", "git", "versions", "device", "started", "finished"):
        assert key in manifest
    assert manifest["versions"]["numpy"]
    assert "libsndfile" in manifest["versions"]
    assert set(manifest["git"]) == {"commit", "dirty"}
    path = tmp_path / "run" / "manifest.json"
    write_json_atomic(path, manifest)
    assert json.loads(path.read_text())["argv"] == ["fma-harness", "run"]
    assert not list(path.parent.glob(".*.tmp"))


def test_the_device_says_whether_the_cpu_trains_in_bfloat16():
    from harness.run.manifest import device_info
    from harness.training.runtime import cpu_has_fast_bfloat16, resolve_amp

    info = device_info()
    assert info["cpu_amx_bfloat16"] is cpu_has_fast_bfloat16()
    assert info["cpu_amx_bfloat16"] is resolve_amp("auto", torch.device("cpu"))
