"""Tests for harness/calibration.py: temperature scaling of logits and of any model's proba."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.errors import ParameterError
from harness.scoring.calibration import TemperatureScaler, calibrate_proba, proba_to_logits

torch.set_num_threads(1)


def calibrated_sample(n=3000, n_classes=5, seed=0, scale=2.0):
    """Logits and labels drawn from softmax(logits): calibrated by construction."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, n_classes)) * scale
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(n_classes, p=row) for row in p])
    return logits, y


def test_overconfident_logits_get_t_above_one_and_lower_nll():
    logits, y = calibrated_sample()
    scaler = TemperatureScaler().fit(logits * 3, y)  # three times too confident
    assert scaler.temperature_ == pytest.approx(3.0, rel=0.15)
    report = scaler.report()
    assert report["calibrated_log_loss"] < report["raw_log_loss"] - 0.1
    proba = scaler.transform(logits * 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == logits.argmax(axis=1)).all()  # ranking unchanged


def test_calibrated_logits_keep_t_near_one():
    logits, y = calibrated_sample(seed=1)
    scaler = TemperatureScaler().fit(logits, y)
    assert scaler.temperature_ == pytest.approx(1.0, abs=0.1)
    assert scaler.nll_after_ <= scaler.nll_before_ + 1e-9


def test_underconfident_logits_get_t_below_one():
    logits, y = calibrated_sample(seed=2)
    assert TemperatureScaler().fit(logits / 2, y).temperature_ == pytest.approx(0.5, rel=0.15)


def test_a_perfectly_separated_validation_set_keeps_t_at_one():
    """No finite best T there: the NLL falls as T -> 0, and a fit would sharpen without bound."""
    logits, _ = calibrated_sample(n=200, seed=3)
    y = logits.argmax(axis=1)  # every clip's true class has the top logit
    scaler = TemperatureScaler().fit(logits, y)
    assert scaler.separable_ and scaler.temperature_ == 1.0
    y[0] = (y[0] + 1) % logits.shape[1]  # one mistake: the optimum is finite again
    scaler = TemperatureScaler().fit(logits, y)
    assert not scaler.separable_ and scaler.temperature_ < 1.0
    multi = (logits > 0).astype(float)
    assert TemperatureScaler(task="multi").fit(logits, multi).temperature_ == 1.0


def test_string_labels_with_classes_and_errors():
    logits, y = calibrated_sample(n=500, n_classes=3)
    classes = np.array(["Pop", "Rock", "Jazz"])
    a = TemperatureScaler().fit(logits, classes[y], classes=classes).temperature_
    b = TemperatureScaler().fit(logits, y).temperature_
    assert a == pytest.approx(b)
    with pytest.raises(ParameterError, match="not in classes"):
        TemperatureScaler().fit(logits, np.array(["Blues"] * 500), classes=classes)
    with pytest.raises(ParameterError, match=r"\[0, 3\)"):
        TemperatureScaler().fit(logits, y + 3)
    with pytest.raises(ParameterError, match="not fitted"):
        TemperatureScaler().transform(logits)


def test_calibrate_proba_for_sklearn_style_baselines():
    logits, y = calibrated_sample(n=2000, seed=3)
    p = np.exp(logits * 4)
    p /= p.sum(axis=1, keepdims=True)  # an over-confident baseline's predict_proba
    z = proba_to_logits(p)
    ok = (p[:, 0] > 1e-9) & (p[:, 1] > 1e-9)  # away from the clipping at 1e-12
    np.testing.assert_allclose(z[ok, 1] - z[ok, 0], np.log(p[ok, 1] / p[ok, 0]), rtol=1e-6)
    val, test = slice(0, 1000), slice(1000, None)
    calibrated, report = calibrate_proba(p[val], y[val], p[test])
    assert report["temperature"] > 2 and report["calibrated_log_loss"] < report["raw_log_loss"]
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    nll = -np.log(calibrated[np.arange(1000), y[test]]).mean()
    raw = -np.log(p[test][np.arange(1000), y[test]]).mean()
    assert nll < raw  # also better on held-out data


def test_multilabel_temperature():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(4000, 4)) * 2
    y = (rng.random(logits.shape) < 1 / (1 + np.exp(-logits))).astype(int)
    scaler = TemperatureScaler(task="multi").fit(logits * 2, y)
    assert scaler.temperature_ == pytest.approx(2.0, rel=0.15)
    assert scaler.transform(logits).shape == (4000, 4)


def test_genre_temperatures_fit_only_genres_with_enough_validation_tracks():
    from harness.scoring.calibration import GenreTemperatureScaler

    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 3)) * 2
    y = (rng.random((400, 3)) < 1 / (1 + np.exp(-z))).astype(int)  # calibrated by construction
    y[:, 2] = 0
    y[:2, 2] = 1  # two positives only: left at T = 1
    scaler = GenreTemperatureScaler().fit(z * 3, y)  # three times too confident
    assert scaler.fitted_.tolist() == [True, True, False]
    np.testing.assert_allclose(scaler.temperatures_[:2], 3.0, rtol=0.2)
    assert scaler.temperatures_[2] == 1.0
    proba = scaler.transform(z * 3)
    assert proba.shape == (400, 3)
    np.testing.assert_array_equal(proba > 0.5, z > 0)  # the sign of every logit is kept
    assert "per-genre temperature on 2 of 3 genres" in scaler.describe()
    none = GenreTemperatureScaler(min_tracks=500).fit(z, y)
    assert none.describe().startswith("calibration skipped")
    with pytest.raises(ParameterError, match="not fitted"):
        GenreTemperatureScaler().transform(z)
