"""Regenerate the committed metrics reference set (run once; commit the outputs).

    .venv/bin/python tests/data/metrics_reference/generate.py

Inputs: ``single_label.csv`` (y_true + 5 probability columns; includes an unnormalised row, a
row with 0 on the true class, tied rows and a class "e" absent from truth and predictions) and
``multilabel.csv`` (3 multi-hot columns y_*, 3 score columns s_*, a ``split`` column
validation/test). Outputs: ``expected.json``. Each value was cross-checked against scikit-learn
where it computes the same quantity when this file was generated. Regenerating after a change
to harness.scoring.metrics defeats the point: only do it when a convention change is intended,
and say so in the commit message.
"""

import csv
import json
import warnings
from pathlib import Path

import numpy as np
from sklearn import metrics as skm

from harness.scoring import metrics

HERE = Path(__file__).parent
LABELS = ["a", "b", "c", "d", "e"]
ML_LABELS = ["x", "y", "z"]


def make_single(rng):
    n = 30
    y = rng.choice(["a", "b", "c", "d"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    p = rng.dirichlet(np.ones(5) * 0.7, size=n)
    p[:, 4] *= 0.05  # "e" never wins the arg-max
    p[0] *= 2.0  # unnormalised row
    p[1, LABELS.index(y[1])] = 0.0  # zero on the true class: clipped to 1e-15
    p[2] = [0.25, 0.25, 0.25, 0.25, 0.0]  # tie: arg-max goes to "a"
    p[3] = [0.1, 0.3, 0.3, 0.3, 0.0]  # tie at the top
    return list(y), p


def make_multilabel(rng):
    n = 40
    y = (rng.random((n, 3)) < [0.5, 0.3, 0.15]).astype(int)
    s = np.clip(0.35 * y + rng.random((n, 3)) * 0.65, 0, 1).round(3)  # ties from rounding
    split = ["validation"] * 20 + ["test"] * 20
    return y, s, split


def main():
    rng = np.random.default_rng(20180413)
    y, p = make_single(rng)
    with open(HERE / "single_label.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["y_true", *LABELS])
        w.writerows([lab, *map(repr, row)] for lab, row in zip(y, p.tolist(), strict=True))
    yml, s, split = make_multilabel(rng)
    with open(HERE / "multilabel.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["split", *(f"y_{c}" for c in ML_LABELS), *(f"s_{c}" for c in ML_LABELS)])
        for sp, yr, sr in zip(split, yml.tolist(), s.tolist(), strict=True):
            w.writerow([sp, *yr, *map(repr, sr)])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"labels": LABELS}
        table = metrics.per_class_table(y, p, **kw)
        out = {
            "evaluate": metrics.evaluate(y, p, **kw),
            "macro_f1_absent_0": metrics.macro_f1(y, p, absent=0.0, **kw),
            "macro_f1_absent_1": metrics.macro_f1(y, p, absent=1.0, **kw),
            "confusion_matrix": metrics.confusion_matrix(y, p, **kw).tolist(),
            "per_class": {
                col: [None if v != v else v for v in table[col].tolist()] for col in table
            },
            "log_loss_ci_200_seed0": list(
                metrics.bootstrap_ci(metrics.log_loss, y, p, n_boot=200, seed=0, **kw)
            ),
        }
        pn = p / p.sum(axis=1, keepdims=True)
        pred = np.asarray(LABELS)[p.argmax(axis=1)]
        assert np.isclose(
            out["evaluate"]["log_loss"],
            skm.log_loss(y, np.clip(pn, 1e-15, 1), labels=LABELS),
            rtol=1e-9,
        )
        assert np.isclose(out["evaluate"]["macro_f1"], skm.f1_score(y, pred, average="macro"))
        assert np.isclose(
            out["macro_f1_absent_0"],
            skm.f1_score(y, pred, labels=LABELS, average="macro", zero_division=0),
        )
        assert np.isclose(out["evaluate"]["accuracy"], skm.accuracy_score(y, pred))

        val, test = np.arange(20), np.arange(20, 40)
        th = metrics.tune_thresholds(yml[val], s[val], labels=ML_LABELS)
        out["thresholds"] = th.tolist()
        out["evaluate_multilabel"] = metrics.evaluate_multilabel(
            yml[test], s[test], labels=ML_LABELS, thresholds=th
        )
        ev = out["evaluate_multilabel"]
        assert np.isclose(
            ev["roc_auc_macro"], skm.roc_auc_score(yml[test], s[test], average="macro")
        )
        assert np.isclose(
            ev["roc_auc_micro"], skm.roc_auc_score(yml[test], s[test], average="micro")
        )
        assert np.isclose(ev["pr_auc_macro"], skm.average_precision_score(yml[test], s[test]))
        assert np.isclose(
            ev["f1_micro_tuned"],
            skm.f1_score(yml[test], (s[test] >= th).astype(int), average="micro"),
        )
    (HERE / "expected.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
