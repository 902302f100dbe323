"""Pooling a cross-validation's held-out results over its folds (cv_summary.json)."""

import json

import numpy as np
import pytest

from tumorscope.evaluate.classification import classification_metrics
from tumorscope.evaluate.folds import summarize_folds
from tumorscope.evaluate.segmentation import PatientResult, summarize
from tumorscope.results import MetricsReport

CLASSES = ["a", "b"]


def _fold(root, i, body):
    (root / f"fold{i}").mkdir(parents=True)
    (root / f"fold{i}" / "test_metrics.json").write_text(json.dumps(body))


def _patient(pid, dice):
    t = np.array([True, False])
    return PatientResult(pid, 2, dice, dice / 2, 1.0, 10, 10, t, np.array([0.9, 0.1]), t)


def test_segmentation_folds_pool_their_patients(tmp_path):
    for i, dices in enumerate(([0.8, 0.6], [0.9])):
        _fold(tmp_path, i, summarize([_patient(f"P{i}{j}", d) for j, d in enumerate(dices)], n_boot=50))
    s = summarize_folds(tmp_path, 3)
    assert s["folds_done"] == 2 and s["n_patients"] == 3 and s["dice_mean"] == pytest.approx(0.7667, abs=1e-4)
    assert s["across_folds"]["dice_mean"]["per_fold"] == [pytest.approx(0.7), pytest.approx(0.9)]
    assert MetricsReport.from_json(s).estimate("dice_mean").ci == tuple(s["dice_ci95"])


def test_classification_folds_are_scored_together(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        y = rng.integers(0, 2, 10)
        p = np.clip(np.eye(2)[y] * 0.6 + rng.random((10, 2)) * 0.4, 0, 1)
        p = p / p.sum(1, keepdims=True)
        body = classification_metrics(y, p, CLASSES, n_boot=20)
        body["predictions"] = [{"path": f"f{i}_{j}", "group": None, "true": CLASSES[t], "predicted": CLASSES[int(q.argmax())],
                                "probabilities": dict(zip(CLASSES, map(float, q)))} for j, (t, q) in enumerate(zip(y, p))]
        _fold(tmp_path, i, body)
    s = summarize_folds(tmp_path, 2)
    assert s["n_images"] == 20 and s["pooled"]["n"] == 20 and "accuracy" in s["pooled"]["ci95"]
    assert s["across_folds"]["accuracy"]["sd"] >= 0 and summarize_folds(tmp_path / "none", 2) == {"folds_done": 0}
