"""Scoring: metrics, calibration, per-group scoring of a model's logits, and challenge submissions.

Modules: :mod:`~harness.scoring.metrics` (single- and multi-label metrics),
:mod:`~harness.scoring.calibration` (temperature scaling), :mod:`~harness.scoring.groups`
(logits per group -> calibrated probabilities and a leaderboard row),
:mod:`~harness.scoring.submission` (write, validate, score challenge CSV files). Nothing here
trains a model.
"""
