"""The dask.distributed path: a real LocalCluster gives the local run's result, row for row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from harness.data.audio import DecodeConfig
from harness.features import LogMelConfig, extract, load_feature_table, load_logmel

distributed = pytest.importorskip("distributed")

DECODE = DecodeConfig(min_duration=1.5)
LOGMEL = LogMelConfig(duration=2.0, n_mels=64)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("cluster-audio")
    rng = np.random.default_rng(7)
    rows = {}
    for i, seconds in enumerate([2.5, 2.5, 2.5, 1.0, 2.5, 2.5]):
        path = root / f"{i:06d}.mp3"
        t = np.arange(int(seconds * 44100)) / 44100
        y = 0.3 * np.sin(2 * np.pi * (150 + 80 * i) * t)[:, None] + 0.05 * rng.standard_normal(
            (t.size, 2)
        )
        sf.write(path, y.astype(np.float32), 44100, format="MP3")
        rows[i] = (str(path), "training" if i < 4 else "test")
    (root / "bad.mp3").write_bytes(b"\x00" * 400)
    rows["3f2a-challenge"] = (str(root / "bad.mp3"), "challenge")
    rows["missing-id"] = (str(root / "nope.mp3"), "challenge")
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["path", "group"])
    table.index = pd.Index(list(rows), dtype=object)
    return table


@pytest.mark.slow
def test_local_cluster_equals_local_run(clips, tmp_path):
    from distributed import LocalCluster

    local = extract(clips, cache_dir=tmp_path / "local", logmel=LOGMEL, n_jobs=1, decode=DECODE)
    kwargs = dict(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    with LocalCluster(**kwargs) as cluster:
        remote = extract(
            clips,
            cache_dir=tmp_path / "dask",
            logmel=LOGMEL,
            scheduler=cluster.scheduler_address,
            decode=DECODE,
            progress=False,
        )
    assert remote.attrs["n_computed"] == len(clips)
    pd.testing.assert_frame_equal(remote, local)
    assert remote.loc["3f2a-challenge", "status"] in {"corrupt", "empty"}
    assert remote.at[3, "status"] == "short" and remote.at[3, "padded"]
    keys = list(clips.index)
    a = load_feature_table(tmp_path / "local", keys=keys, decode=DECODE)
    b = load_feature_table(tmp_path / "dask", keys=keys, decode=DECODE)
    pd.testing.assert_frame_equal(a, b, rtol=1e-6, atol=1e-5)
    assert a.loc[[0, 1, 2]].notna().all().all()
    for group in ("training", "test", "challenge"):
        x = load_logmel(tmp_path / "local", group=group, logmel=LOGMEL, decode=DECODE)
        y = load_logmel(tmp_path / "dask", group=group, logmel=LOGMEL, decode=DECODE)
        pd.testing.assert_frame_equal(x.index, y.index)
        np.testing.assert_allclose(
            x.data.astype(np.float32), y.data.astype(np.float32), atol=0.07, equal_nan=True
        )
    # Workers wrote the rows to the shared cache; nothing is left in the journal.
    assert not list((tmp_path / "dask").glob("*/journal/*"))


@pytest.mark.slow
def test_loky_workers_equal_sequential_run(clips, tmp_path):
    one = extract(clips, cache_dir=tmp_path / "one", logmel=LOGMEL, n_jobs=1, decode=DECODE)
    two = extract(clips, cache_dir=tmp_path / "two", logmel=LOGMEL, n_jobs=2, decode=DECODE)
    pd.testing.assert_frame_equal(one, two)
    keys = list(clips.index)
    a = load_feature_table(tmp_path / "one", keys=keys, decode=DECODE)
    b = load_feature_table(tmp_path / "two", keys=keys, decode=DECODE)
    pd.testing.assert_frame_equal(a, b)  # one BLAS thread per clip everywhere: same bits
