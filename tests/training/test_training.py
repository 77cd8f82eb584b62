"""Tests for the neural training loop (harness/training*.py): estimator API, repeatability,
lazy memmap reading, checkpoints and resume, augmentation options, sanity helpers, and one
learnability test on classes that differ only in the temporal order of their sounds."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from band_data import band_dataset

from harness.errors import ParameterError
from harness.scoring import metrics
from harness.training import checkpoint, loaders, runtime, steps
from harness.training.chunks import (
    ArraySource,
    EvalChunks,
    RowSubset,
    TrainChunks,
    eval_offsets,
    fit_length,
)
from harness.training.estimator import NeuralClassifier
from harness.training.fit_loop import HISTORY_COLUMNS

torch.set_num_threads(1)
TINY = {"channels": (8, 8, 8, 8)}  # a small CNN: fits in a fraction of a second


def order_dataset(n, *, seed, n_mels=24, frames=160):
    """Two classes with the same three sounds in the same proportions, in a different order
    (cycles a-b-c-c vs a-c-b-c, one event every 6 frames): invisible to frame statistics."""
    rng = np.random.default_rng(seed)
    cycles = {"abcc": [0, 1, 2, 2], "acbc": [0, 2, 1, 2]}
    y = np.array([list(cycles)[i % 2] for i in range(n)])
    X = rng.normal(size=(n, n_mels, frames)) * 3 - 40
    for i in range(n):
        phase = int(rng.integers(0, 24))
        for k, start in enumerate(range(-phase, frames, 6)):
            band = cycles[y[i]][k % 4] * 8
            X[i, band + 2 : band + 6, max(start, 0) : max(start + 3, 0)] += 15
    return X.astype(np.float16), y


def tiny_clf(**kw):
    params = dict(
        model="cnn",
        model_params=TINY,
        chunk_frames=64,
        n_eval_chunks=2,
        batch_size=8,
        epochs=3,
        lr=1e-2,
        num_threads=1,
        progress=False,
    )
    params.update(kw)
    return NeuralClassifier(**params)


@pytest.fixture(scope="module")
def data():
    X, y = band_dataset(32, seed=0)
    Xv, yv = band_dataset(12, seed=1)
    return X, y, Xv, yv


def test_fit_predict_api_and_history(data, tmp_path):
    X, y, Xv, yv = data
    clf = tiny_clf(epochs=4).fit(X, y, X_val=Xv, y_val=yv)
    assert list(clf.classes_) == ["blues", "jazz", "rock"]
    proba = clf.predict_proba(Xv)
    assert proba.shape == (12, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    logits = clf.decision_logits(Xv)
    np.testing.assert_allclose(steps.logits_to_proba(logits, task="single"), proba)
    assert (clf.predict(Xv) == yv).mean() > 0.8
    hist = clf.history_
    assert tuple(hist.columns) == HISTORY_COLUMNS and list(hist["epoch"]) == [1, 2, 3, 4]
    assert hist["val_log_loss"].iloc[-1] < math.log(3) and (hist["grad_norm"] > 0).all()
    assert clf.best_epoch_ == int(hist["epoch"][hist["val_log_loss"].idxmin()])
    back = pd.read_csv(clf.save_history(tmp_path / "h.csv"))
    np.testing.assert_allclose(back["train_loss"], hist["train_loss"])


def test_same_seed_same_predictions_other_seed_differs(data):
    X, y, Xv, yv = data
    a = tiny_clf(random_state=3, spec_augment=True, mixup=0.4).fit(X, y, X_val=Xv, y_val=yv)
    b = tiny_clf(random_state=3, spec_augment=True, mixup=0.4).fit(X, y, X_val=Xv, y_val=yv)
    c = tiny_clf(random_state=4, spec_augment=True, mixup=0.4).fit(X, y, X_val=Xv, y_val=yv)
    np.testing.assert_array_equal(a.predict_proba(Xv), b.predict_proba(Xv))
    pd.testing.assert_frame_equal(
        a.history_.drop(columns="seconds"), b.history_.drop(columns="seconds")
    )
    assert not np.array_equal(a.predict_proba(Xv), c.predict_proba(Xv))


class CountingArray:
    """Array-like that records every read, to prove the loop never loads a whole array."""

    def __init__(self, data):
        self.data, self.shape, self.ndim, self.reads = data, data.shape, data.ndim, []

    def __getitem__(self, key):
        out = self.data[key]
        self.reads.append(out.size)
        return out


def test_memmap_input_read_lazily_per_chunk(data, tmp_path):
    X, y, Xv, yv = data
    mm = np.memmap(tmp_path / "x.f16", dtype=np.float16, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.memmap(tmp_path / "x.f16", dtype=np.float16, mode="r", shape=X.shape)
    counting = CountingArray(ro)
    clf = tiny_clf(epochs=1, data_on_device=False).fit(counting, y)  # on a GPU too
    assert counting.reads and max(counting.reads) == 24 * 64  # one chunk at a time
    np.testing.assert_array_equal(
        clf.predict_proba(ro), tiny_clf(epochs=1).fit(X, y).predict_proba(X)
    )
    state = ArraySource(ro[4:9]).__getstate__()  # pickled for workers as file + offset
    assert state["memmap"][2] == (5, 24, 80) and state["memmap"][3] == 4 * 24 * 80 * 2
    subset = RowSubset(ro, [5, 1, 30])  # drop rows without loading the cache
    assert subset.shape == (3, 24, 80) and np.array_equal(subset[1, :, 2:9], X[1, :, 2:9])
    clone = pickle.loads(pickle.dumps(subset))
    assert isinstance(clone.data, np.memmap) and np.array_equal(clone[2, :, :], X[30])
    tiny_clf(epochs=1, num_workers=1).fit(subset, y[[5, 1, 30]])  # read in a worker process


def test_default_chunk_follows_the_model():
    from models.cnn import build_cnn
    from models.crnn import build_crnn

    paper = build_cnn(n_classes=3, n_mels=96, preset="paper")
    assert NeuralClassifier("cnn", preset="paper").resolve_chunk_frames(paper) == 1280
    assert NeuralClassifier().resolve_chunk_frames(build_crnn(n_classes=3, n_mels=96)) == 256


def test_short_chunk_trains_on_its_own_3_7_s_chunks():
    X, y = band_dataset(24, seed=0, n_mels=96, frames=400)
    Xv, yv = band_dataset(12, seed=1, n_mels=96, frames=400)
    clf = NeuralClassifier(
        "short-chunk", n_eval_chunks=3, batch_size=8, epochs=12, progress=False
    ).fit(X, y, X_val=Xv, y_val=yv)
    assert clf.chunk_frames_ == 160  # the model's chunk: 3.7 s at 22,050 Hz, hop 512
    assert (clf.predict(Xv) == yv).mean() == 1.0  # band classes: any working model gets them


def test_crops_and_eval_chunks():
    assert eval_offsets(100, chunk_frames=40, n_chunks=3) == [0, 30, 60]
    assert eval_offsets(30, chunk_frames=40, n_chunks=3) == [0, 0, 0]
    short = fit_length(np.arange(6, dtype=np.float32).reshape(2, 3), chunk_frames=7)
    assert short.shape == (2, 7) and list(short[0]) == [0, 1, 2, 0, 1, 2, 0]
    src = ArraySource(np.random.default_rng(0).normal(size=(5, 4, 50)).astype(np.float32))
    ds = TrainChunks(src, np.zeros(5, dtype=np.int64), chunk_frames=20, seed=1)
    first = ds[2][0]
    assert np.array_equal(first, ds[2][0])  # a pure function of (seed, epoch, index)
    ds.set_epoch(1)
    assert not np.array_equal(first, ds[2][0])
    assert EvalChunks(src, chunk_frames=20, n_chunks=4)[0].shape == (4, 4, 20)


def test_lr_schedules():
    peak, total = 1e-2, 100
    one = [steps.lr_at(s, total=total, peak=peak, schedule="onecycle") for s in range(101)]
    assert one[0] == pytest.approx(peak / 25) and max(one) == pytest.approx(peak, rel=1e-3)
    assert one[-1] < peak / 1000 and int(np.argmax(one)) == 30
    cos = [steps.lr_at(s, total=total, peak=peak, schedule="cosine") for s in (0, 50, 100)]
    assert cos == pytest.approx([peak, peak / 2, 0.0], abs=1e-12)
    with pytest.raises(ParameterError):
        steps.lr_at(0, total=1, peak=1, schedule="step")


def test_amp_is_bfloat16_without_loss_scaling_on_a_cpu_and_float16_with_it_on_cuda(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for has_amx in (True, False):
        monkeypatch.setattr(runtime, "cpu_has_fast_bfloat16", lambda has_amx=has_amx: has_amx)
        assert runtime.resolve_amp("auto", cpu) is has_amx
    assert (runtime.amp_dtype(cpu), runtime.amp_dtype(cuda)) == (torch.bfloat16, torch.float16)
    assert not runtime.grad_scaler(cpu, True).is_enabled()
    assert runtime.grad_scaler(cuda, True).is_enabled() == torch.cuda.is_available()
    assert not runtime.grad_scaler(cuda, False).is_enabled()
    conv = torch.nn.Conv1d(2, 2, 3)
    with runtime.autocast(cpu, True):
        assert conv(torch.randn(1, 2, 8)).dtype == torch.bfloat16
    with runtime.autocast(cpu, False):
        assert conv(torch.randn(1, 2, 8)).dtype == torch.float32


def test_an_epoch_with_a_grad_scaler_skips_a_step_of_inf_gradients_and_averages_the_rest():
    """float16's GradScaler (as on CUDA), here on the CPU: a step with inf gradients is skipped
    and leaves no finite gradient norm; the epoch's loss is the mean of its steps' losses, read
    from the device once."""
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 6, 3))
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4)
    settings = {
        "spec_augment": False,
        "freq_mask": 0,
        "time_mask": 0,
        "mixup": 0.0,
        "grad_clip": None,
        "task": "single",
        "random_state": 0,
    }
    x, y = torch.randn(8, 4, 6), torch.arange(8) % 3
    bad = x.clone()
    bad[0, 0, 0] = float("inf")

    def epoch(batches):
        return steps.train_epoch(
            module,
            batches,
            optimizer=optimizer,
            scaler=scaler,
            device=torch.device("cpu"),
            settings=settings,
            lr_fn=lambda step: 1e-2,
            step0=0,
            loss_kw={"weight": None},
        )

    before = [p.detach().clone() for p in module.parameters()]
    _, norm, _, done = epoch([(bad, y)])
    assert done == 1 and math.isnan(norm)  # no finite gradient norm to average
    assert all(torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))
    assert scaler.get_scale() == 2.0**3  # the scaler backed off
    with torch.no_grad():
        first = float(torch.nn.functional.cross_entropy(module(x), y))
    loss, norm, _, done = epoch([(x, y), (x, y)])
    with torch.no_grad():
        after = float(torch.nn.functional.cross_entropy(module(x), y))
    assert done == 2 and math.isfinite(norm) and norm > 0
    assert after < loss < first  # the mean of the two steps' losses lies between
    assert not all(torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def test_runtime_rule_device_amp_and_seeds():
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    assert runtime.resolve_device("cuda:1", local_rank=0) == torch.device("cuda", 0)
    auto = runtime.resolve_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else "cpu")
    fast_bf16 = runtime.cpu_has_fast_bfloat16()
    assert runtime.resolve_amp("auto", torch.device("cpu")) is fast_bf16
    assert runtime.resolve_amp("auto", torch.device("cuda")) is True
    assert runtime.resolve_amp(True, torch.device("cpu")) is True
    assert runtime.resolve_amp(False, torch.device("cuda")) is False
    rt = runtime.setup(device="cpu", amp="auto")
    assert (rt.device, rt.use_amp, rt.info.world_size) == (torch.device("cpu"), fast_bf16, 1)
    draws = []
    for _ in range(2):
        runtime.seed_everything(5, 3)
        draws.append((np.random.rand(), float(torch.rand(1))))
    assert draws[0] == draws[1]
    runtime.seed_everything(5, 4)
    assert (np.random.rand(), float(torch.rand(1))) != draws[0]


def test_num_threads_holds_for_the_models_own_work_and_is_restored_after(data, monkeypatch):
    X, y, Xv, yv = data
    seen = []
    train_epoch = steps.train_epoch

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return train_epoch(*args, **kwargs)

    monkeypatch.setattr(steps, "train_epoch", recording)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        clf = tiny_clf(num_threads=1, epochs=2).fit(X, y, X_val=Xv, y_val=yv)
        assert seen == [1, 1] and torch.get_num_threads() == 2
        clf.predict_proba(Xv)
        clf.embed(Xv)
        assert torch.get_num_threads() == 2
        with runtime.threads(None):  # no setting: torch's own
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_loaders_seed_each_epoch_and_check_mel_bands():
    src = ArraySource(np.random.default_rng(0).normal(size=(10, 4, 50)).astype(np.float32))
    train = loaders.train_loader(
        src, np.arange(10) % 2, chunk_frames=20, batch_size=4, num_workers=0, random_state=1
    )
    orders = []
    for epoch in (1, 1, 2):
        train.set_epoch(epoch)
        orders.append([b[0].sum().item() for b in train.loader])
    assert orders[0] == orders[1] and orders[0] != orders[2]
    assert len(orders[0]) == 2  # drop_last: 10 clips in batches of 4
    evaluation = loaders.eval_loader(
        src, chunk_frames=20, n_eval_chunks=3, batch_size=4, num_workers=0, n_mels=4
    )
    assert next(iter(evaluation)).shape == (2, 3, 4, 20)
    with pytest.raises(ParameterError, match="mel bands"):
        loaders.eval_loader(
            src, chunk_frames=20, n_eval_chunks=3, batch_size=4, num_workers=0, n_mels=5
        )


def test_class_weights():
    targets = np.array([0, 0, 0, 1])
    kw = {"task": "single", "classes": ["a", "b", "c"]}
    assert steps.class_weights(targets, class_weight=None, **kw) is None
    balanced = steps.class_weights(targets, class_weight="balanced", **kw)
    np.testing.assert_allclose(balanced, [4 / 9, 4 / 3, 4 / 3])
    np.testing.assert_allclose(
        steps.class_weights(targets, class_weight={"b": 2.0}, **kw), [1.0, 2.0, 1.0]
    )
    multi = np.array([[1, 0], [1, 1], [0, 0], [1, 0]], dtype=np.float32)
    pos = steps.class_weights(multi, task="multi", class_weight="balanced", classes=["a", "b"])
    np.testing.assert_allclose(pos, [1 / 3, 3.0])
    with pytest.raises(ParameterError, match="class_weight"):
        steps.class_weights(targets, class_weight="equal", **kw)


@pytest.mark.filterwarnings("ignore::harness.scoring.metrics.DegenerateInputWarning")
def test_score_logits_agrees_with_the_leaderboard_metrics():
    logits = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [3, 0, 0, 0], [0, 0, 3, 0]], np.float32)
    targets = np.array([0, 1, 1, 2])  # class 3: neither true nor predicted
    scores = steps.score_logits(logits, targets, task="single")
    proba = steps.logits_to_proba(logits, task="single")
    labels = [0, 1, 2, 3]
    assert scores["macro_f1"] == metrics.macro_f1(targets, proba, labels=labels)
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)  # class 3 left out
    assert scores["accuracy"] == metrics.accuracy(targets, proba, labels=labels) == 0.75
    picked = np.clip(proba[np.arange(4), targets], metrics.EPS, 1.0)
    assert scores["log_loss"] == float(-np.log(picked).mean())
    nan = steps.score_logits(np.full((2, 3), np.nan, np.float32), np.array([0, 1]), task="single")
    assert math.isnan(nan["log_loss"]) and nan["accuracy"] == 0.5  # diverged: still scored
    multi = steps.score_logits(logits - 1.5, np.eye(4)[[0, 1, 1, 2]], task="multi")
    assert multi["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3) and multi["accuracy"] == 0.75


def test_checkpoint_resume_continues_where_it_stopped(data, tmp_path, monkeypatch):
    X, y, Xv, yv = data
    ckpt = tmp_path / "ckpt"
    tiny_clf(epochs=2, checkpoint_dir=ckpt).fit(X, y, X_val=Xv, y_val=yv)
    saved = checkpoint.load_checkpoint(ckpt / checkpoint.CHECKPOINT_NAME)  # plain, weights-only
    assert saved["state"]["epoch"] == 2 and len(saved["state"]["history"]) == 2
    assert not list(ckpt.glob(".*tmp"))
    started = []
    real = steps.train_epoch

    def spy(*args, **kw):
        started.append(kw["step0"])
        return real(*args, **kw)

    monkeypatch.setattr(steps, "train_epoch", spy)
    resumed = tiny_clf(epochs=4, checkpoint_dir=ckpt).fit(X, y, X_val=Xv, y_val=yv)
    steps_per_epoch = 32 // 8
    assert started == [2 * steps_per_epoch, 3 * steps_per_epoch]  # epochs 3 and 4 only
    assert list(resumed.history_["epoch"]) == [1, 2, 3, 4]
    with pytest.raises(ParameterError, match="different settings"):
        tiny_clf(epochs=4, lr=1e-4, checkpoint_dir=ckpt).fit(X, y, X_val=Xv, y_val=yv)


def test_interrupted_fit_resumes_to_the_same_model(data, tmp_path, monkeypatch):
    X, y, Xv, yv = data
    real = steps.train_epoch
    calls = []

    def crash_in_epoch_3(*args, **kw):
        calls.append(kw["step0"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(steps, "train_epoch", crash_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        tiny_clf(epochs=4, checkpoint_dir=tmp_path).fit(X, y, X_val=Xv, y_val=yv)
    monkeypatch.setattr(steps, "train_epoch", real)
    resumed = tiny_clf(epochs=4, checkpoint_dir=tmp_path).fit(X, y, X_val=Xv, y_val=yv)
    straight = tiny_clf(epochs=4).fit(X, y, X_val=Xv, y_val=yv)
    np.testing.assert_array_equal(resumed.predict_proba(Xv), straight.predict_proba(Xv))
    cols = ["train_loss", "val_log_loss", "grad_norm", "lr"]
    pd.testing.assert_frame_equal(resumed.history_[cols], straight.history_[cols])
    again = tiny_clf(epochs=4, checkpoint_dir=tmp_path).fit(X, y, X_val=Xv, y_val=yv)  # finished
    np.testing.assert_array_equal(again.predict_proba(Xv), straight.predict_proba(Xv))


def test_save_load_round_trip(data, tmp_path):
    X, y, Xv, yv = data
    clf = tiny_clf().fit(X, y, X_val=Xv, y_val=yv)
    clf.save(tmp_path / "model.pt")
    back = NeuralClassifier.load(tmp_path / "model.pt", num_threads=1)
    assert list(back.classes_) == list(clf.classes_) and back.num_threads == 1
    np.testing.assert_allclose(back.predict_proba(Xv), clf.predict_proba(Xv), rtol=1e-6)
    pd.testing.assert_frame_equal(back.history_, clf.history_, check_dtype=False)


def test_early_stopping_keeps_best_epoch(data):
    X, y, Xv, yv = data
    clf = tiny_clf(epochs=12, patience=2, lr=0.3, schedule="constant")  # too high: val worsens
    clf.fit(X, y, X_val=Xv, y_val=yv)
    hist = clf.history_
    assert clf.stopped_early_ and len(hist) < 12
    assert clf.best_epoch_ == len(hist) - 2
    # an epoch counts as better only by more than 1e-6 (fit_loop._track_best)
    best = hist["val_log_loss"].iloc[clf.best_epoch_ - 1]
    assert best == pytest.approx(hist["val_log_loss"].min(), abs=1e-6)


def test_multilabel_task_and_class_weights(data):
    X, y, Xv, yv = data
    cols = ["blues", "jazz", "rock"]
    multi = pd.DataFrame({c: (y == c).astype(int) for c in cols})
    multi["jazz"] |= (np.arange(len(y)) % 5 == 0).astype(int)
    multi_val = pd.DataFrame({c: (yv == c).astype(int) for c in cols})
    clf = tiny_clf(task="multi", class_weight="balanced").fit(X, multi, X_val=Xv, y_val=multi_val)
    proba = clf.predict_proba(Xv)
    assert list(clf.classes_) == cols and proba.shape == (12, 3)
    assert not np.allclose(proba.sum(axis=1), 1.0) and ((proba > 0) & (proba < 1)).all()
    assert clf.predict(Xv).shape == (12, 3) and clf.history_["val_log_loss"].notna().all()
    single = tiny_clf(class_weight={"rock": 3.0}, spec_augment=True).fit(X, y)
    assert single.history_["val_log_loss"].isna().all()  # no validation set: no val scores


def test_multilabel_logits_start_at_the_training_tag_rates(data, tmp_path):
    from harness.training.estimator import TagRateOffset

    X, y, Xv, yv = data
    multi = np.column_stack([(y == "jazz"), np.zeros(len(y)), np.ones(len(y))]).astype(int)
    clf = tiny_clf(task="multi", epochs=1).fit(X, multi)
    assert isinstance(clf.module_, TagRateOffset)
    rate = np.clip(multi.mean(axis=0), 1e-4, 1 - 1e-4)
    offset = clf.module_.offset.cpu().numpy()  # on a GPU the module lives there
    np.testing.assert_allclose(offset, np.log(rate / (1 - rate)), rtol=1e-5)
    fresh = clf.build_module(n_classes=3, n_mels=X.shape[1])
    assert isinstance(fresh, TagRateOffset) and fresh.min_frames == clf.module_.net.min_frames
    assert not fresh.offset.any()  # a fresh module (e.g. the sanity checks') starts at 0.5
    loaded = NeuralClassifier.load(clf.save(tmp_path / "model.pt"))
    np.testing.assert_allclose(loaded.predict_proba(Xv), clf.predict_proba(Xv), rtol=1e-5)
    assert not isinstance(tiny_clf().build_module(n_classes=3, n_mels=X.shape[1]), TagRateOffset)


def test_input_errors(data):
    X, y, Xv, yv = data
    with pytest.raises(ParameterError, match="3-D"):
        tiny_clf().fit(X[:, :, 0], y)
    with pytest.raises(ParameterError, match="labels"):
        tiny_clf().fit(X, y[:-1])
    with pytest.raises(ParameterError, match="not in classes"):
        tiny_clf(classes=["blues", "jazz"]).fit(X, y)
    with pytest.raises(ParameterError, match="Did you mean"):
        tiny_clf(model="crn").fit(X, y)
    with pytest.raises(ParameterError, match="not fitted"):
        tiny_clf().predict_proba(Xv)
    with pytest.raises(ParameterError, match="minimum input of 64"):
        tiny_clf(chunk_frames=32).fit(X, y)
    clf = tiny_clf(epochs=1).fit(X, y)
    with pytest.raises(ParameterError, match="mel bands"):
        clf.predict_proba(np.zeros((2, 30, 80), dtype=np.float16))


@pytest.mark.slow
def test_crnn_learns_temporal_order_that_frame_statistics_miss():
    from sklearn.linear_model import LogisticRegression

    X, y = order_dataset(64, seed=0)
    Xv, yv = order_dataset(40, seed=1)

    def stats(a):
        return np.concatenate([a.mean(axis=2), a.std(axis=2)], axis=1)

    summary = LogisticRegression(max_iter=2000).fit(stats(X), y).score(stats(Xv), yv)
    crnn = NeuralClassifier(
        "crnn",
        model_params={"pools": ((2, 2), (2, 2), (2, 2), (3, 2))},
        chunk_frames=64,
        n_eval_chunks=2,
        batch_size=16,
        epochs=8,
        num_threads=1,
        progress=False,
    )
    acc = (crnn.fit(X, y, X_val=Xv, y_val=yv).predict(Xv) == yv).mean()
    assert summary < 0.75  # the classes are (nearly) invisible to frame statistics
    assert acc >= 0.9


def _dead_layer_cnn(*, n_classes, n_mels, preset, **overrides):
    from models.cnn import build_cnn

    module = build_cnn(n_classes=n_classes, n_mels=n_mels, preset=preset, **overrides)
    module.unused = torch.nn.Linear(3, 3)  # never called: no gradient reaches it
    torch.nn.init.normal_(module.head.weight, std=5.0)  # a loud head: loss at init >> ln C
    return module


@pytest.mark.slow
def test_sanity_checks_pass_on_a_sound_setup(data):
    from harness.training.sanity import run_sanity_checks

    X, y, Xv, yv = data
    clf = tiny_clf(epochs=3).fit(X, y, X_val=Xv, y_val=yv)
    results = run_sanity_checks(clf, X, y, Xv, yv, shuffled_epochs=2)
    names = [r["name"] for r in results]
    assert names == ["init_loss", "gradients", "overfit_batch", "shuffled_labels", "finite"]
    assert all(r["passed"] for r in results), results
    assert all(set(r) == {"name", "passed", "value", "expected", "detail"} for r in results)
    init = results[0]
    assert init["expected"] == pytest.approx(math.log(3))


def test_sanity_checks_catch_dead_layers_and_loud_init(data):
    from harness.training.sanity import check_gradients, check_init_loss

    X, y, _, _ = data
    clf = tiny_clf(model=_dead_layer_cnn)
    grads = check_gradients(clf, X, y)
    assert not grads["passed"] and "unused" in grads["detail"]
    assert not check_init_loss(clf, X, y)["passed"]


def test_overfit_batch_reads_the_signal_of_clips_padded_past_the_middle(data):
    """Short clips are padded with a constant: the check fits their signal, not the padding."""
    from harness.training.sanity import check_overfit_batch

    X, y, _, _ = data
    padded = np.concatenate([X, np.full((len(X), X.shape[1], 3 * X.shape[2]), -80.0)], axis=2)
    result = check_overfit_batch(tiny_clf(), padded.astype(np.float16), y)
    assert result["passed"], result


def test_progress_prints_lines_when_stderr_is_not_a_terminal(capsys, monkeypatch):
    from harness.training import progress

    monkeypatch.setattr(progress, "LINE_EVERY_SECONDS", 0.0)  # every step is "30 s later"
    with progress.EpochProgress(enabled=None, epochs=2, steps=2, start=0, name="cnn") as bar:
        for epoch in (1, 2):
            bar.step()
            bar.step()
            bar.epoch_done(
                {"epoch": epoch, "train_loss": 1.5, "val_log_loss": 0.9, "val_macro_f1": 0.5}
            )
    lines = capsys.readouterr().out.splitlines()
    assert "cnn epoch 1/2 step 1/2" in lines[0] and "s left" in lines[0]
    epoch_lines = [line for line in lines if "val ll 0.900" in line]
    assert len(epoch_lines) == 2 and "s left" in epoch_lines[0]
    assert "epoch 2/2 loss 1.500" in epoch_lines[1] and "left" not in epoch_lines[1]
    with progress.EpochProgress(enabled=False, epochs=1, steps=1, start=0, name="x") as bar:
        bar.step()
        bar.epoch_done({"epoch": 1, "train_loss": 1.0})
    assert capsys.readouterr().out == ""


def test_a_format_1_file_loads_with_the_conv_order_it_was_trained_with(data, tmp_path):
    """Files saved before ConvBlock's pool_first held conv models that pooled last."""
    X, y, Xv, yv = data
    pool_last = tiny_clf(model_params={**TINY, "pool_first": 0})
    pool_last.fit(X, y, X_val=Xv, y_val=yv).save(tmp_path / "model.pt")
    payload = checkpoint.load_checkpoint(tmp_path / "model.pt")
    payload["format"] = 1
    payload["settings"]["model_params"] = dict(TINY)  # as format 1 wrote it
    checkpoint.save_atomic(payload, tmp_path / "old.pt")
    back = NeuralClassifier.load(tmp_path / "old.pt")
    assert back.model_params["pool_first"] == 0
    np.testing.assert_allclose(back.predict_proba(Xv), pool_last.predict_proba(Xv), rtol=1e-6)
    # the current format keeps the compact default, pool first
    tiny_clf().fit(X, y).save(tmp_path / "new.pt")
    assert "pool_first" not in NeuralClassifier.load(tmp_path / "new.pt").model_params


def test_a_checkpoint_with_other_layers_is_refused_with_one_line(data, tmp_path):
    X, y, Xv, yv = data
    ckpt = tmp_path / "ckpt"
    params = {**TINY, "pool_first": 0}
    tiny_clf(epochs=1, model_params=params, checkpoint_dir=ckpt).fit(X, y, X_val=Xv, y_val=yv)
    path = ckpt / checkpoint.CHECKPOINT_NAME
    saved = checkpoint.load_checkpoint(path)
    saved["model"] = {f"renamed.{k}": v for k, v in saved["model"].items()}  # another layout
    checkpoint.save_atomic(saved, path)
    with pytest.raises(ParameterError, match="other layers than this version"):
        tiny_clf(epochs=2, model_params=params, checkpoint_dir=ckpt).fit(X, y, X_val=Xv, y_val=yv)


def one_logit_short(*, n_classes, n_mels, preset="compact"):
    """A user's network whose head has one output too few."""
    return torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(), torch.nn.Linear(n_mels, n_classes - 1)
    )


def test_a_network_with_the_wrong_number_of_logits_is_refused_before_training(data):
    # it failed at the first step with torch's "Target 2 is out of bounds"
    X, y, Xv, yv = data
    clf = tiny_clf(model=f"{__name__}:one_logit_short", model_params=None)
    with pytest.raises(ParameterError, match=r"to \(2, 2\), not \(2, 3\) logits, one per class"):
        clf.fit(X, y, X_val=Xv, y_val=yv)
