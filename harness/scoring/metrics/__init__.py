"""Scoring metrics: the challenge's single-label metrics and the multi-label tagging metrics.

``from harness.scoring import metrics`` gives both families under one name:
:mod:`~harness.scoring.metrics.single` (log loss, macro F1, accuracy, top-3, ECE, bootstrap
intervals), :mod:`~harness.scoring.metrics.multilabel` (ROC-AUC, PR-AUC, F1 at thresholds) and
the input checks they share (:mod:`~harness.scoring.metrics.validation`).
"""

from harness.scoring.metrics.multilabel import (
    DEFAULT_THRESHOLD,
    EVALUATE_MULTILABEL_KEYS,
    apply_thresholds,
    average_precision_macro,
    evaluate_multilabel,
    f1_at_thresholds,
    roc_auc_macro,
    roc_auc_micro,
    tune_thresholds,
    validate_multilabel,
)
from harness.scoring.metrics.single import (
    ECE_BINS,
    EVALUATE_KEYS,
    TOP_K,
    accuracy,
    bootstrap_ci,
    confusion_matrix,
    evaluate,
    expected_calibration_error,
    log_loss,
    macro_f1,
    paired_bootstrap,
    per_class_table,
    predict,
    top3_accuracy,
    top_k_accuracy,
    validate,
)
from harness.scoring.metrics.validation import (
    EPS,
    DegenerateInputWarning,
    check_labels,
    check_score_matrix,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "ECE_BINS",
    "EPS",
    "EVALUATE_KEYS",
    "EVALUATE_MULTILABEL_KEYS",
    "TOP_K",
    "DegenerateInputWarning",
    "accuracy",
    "apply_thresholds",
    "average_precision_macro",
    "bootstrap_ci",
    "check_labels",
    "check_score_matrix",
    "confusion_matrix",
    "evaluate",
    "evaluate_multilabel",
    "expected_calibration_error",
    "f1_at_thresholds",
    "log_loss",
    "macro_f1",
    "paired_bootstrap",
    "per_class_table",
    "predict",
    "roc_auc_macro",
    "roc_auc_micro",
    "top3_accuracy",
    "top_k_accuracy",
    "tune_thresholds",
    "validate",
    "validate_multilabel",
]
