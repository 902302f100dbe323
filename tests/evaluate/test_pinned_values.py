"""Numbers the evaluation code gave before its refactor (issue 24), pinned to 3 decimals.

The inputs are small synthetic sets built with fixed seeds; the expected values were computed by the
earlier hand-written code (bincount confusion matrix, hand-rolled bootstrap) and must not move.
"""

import numpy as np
import pytest

from tests.synthetic import noisy_predictions as noisy
from tumorscope.evaluate.bootstrap import bootstrap_ci, cluster_bootstrap_ci
from tumorscope.evaluate.classification import classification_metrics
from tumorscope.evaluate.segmentation import PatientResult, summarize

TOL = 5e-4  # equal to 3 decimals
CLASSES = ["a", "b", "c"]
SCALARS = ("accuracy", "balanced_accuracy", "auc_macro", "sensitivity_macro", "specificity_macro",
           "precision_macro", "f1_macro", "ece")




def patients(n: int = 12, seed: int = 1) -> list[PatientResult]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = rng.random(6) < 0.4
        if i == 0:
            t[:] = False
        s = np.clip(t * 0.3 + rng.random(6) * 0.6, 0, 1)
        pred = s > 0.5
        tv = int(t.sum() * 50)
        out.append(PatientResult(f"P{i}", 6, float(rng.random()) if tv else float(pred.sum() == 0),
                                 float(rng.random() * 0.8), float("nan") if i == 3 else float(rng.random() * 20),
                                 tv, int(pred.sum() * 40), t, s, pred))
    return out


def close(got, want):
    if want is None:
        return got is None
    if isinstance(want, list):
        return len(got) == len(want) and all(close(g, w) for g, w in zip(got, want))
    return got == pytest.approx(want, abs=TOL)


CLS_IMAGES = {
    "accuracy": 0.766667, "balanced_accuracy": 0.766667, "auc_macro": 0.908704, "sensitivity_macro": 0.766667,
    "specificity_macro": 0.883333, "precision_macro": 0.77274, "f1_macro": 0.766749, "ece": 0.133195,
    "ci95": {"accuracy": [0.7, 0.833889], "balanced_accuracy": [0.694694, 0.840669], "auc_macro": [0.860576, 0.956156],
             "sensitivity_macro": [0.694694, 0.840669], "specificity_macro": [0.848693, 0.919343],
             "precision_macro": [0.702077, 0.856906], "f1_macro": [0.689732, 0.834602]},
    "per_class": {"a": {"sensitivity": 0.7, "specificity": 0.933333, "precision": 0.84, "f1": 0.763636, "auc": 0.918333},
                  "b": {"sensitivity": 0.833333, "specificity": 0.883333, "precision": 0.78125, "f1": 0.806452,
                        "auc": 0.93},
                  "c": {"sensitivity": 0.766667, "specificity": 0.833333, "precision": 0.69697, "f1": 0.730159,
                        "auc": 0.877778}},
    "confusion_matrix": [[21, 3, 6], [1, 25, 4], [3, 4, 23]],
}
CLS_PATIENT_CI = {"accuracy": [0.688611, 0.833611], "balanced_accuracy": [0.687511, 0.840972],
                  "auc_macro": [0.866582, 0.948064], "sensitivity_macro": [0.687511, 0.840972],
                  "specificity_macro": [0.843459, 0.919524], "precision_macro": [0.688698, 0.835685],
                  "f1_macro": [0.68052, 0.832218]}
CLS_EDGE = {  # class "c" absent from the truth, class "b" never predicted
    "accuracy": 0.375, "balanced_accuracy": 0.375, "auc_macro": 0.765625, "sensitivity_macro": 0.375,
    "specificity_macro": 0.708333, "precision_macro": 0.3, "f1_macro": 0.222222, "ece": 0.3,
    "ci95": {"accuracy": [0.059375, 0.625], "balanced_accuracy": [0.095, 0.5], "auc_macro": [0.425, 1.0],
             "sensitivity_macro": [0.095, 0.5], "specificity_macro": [0.61375, 0.875],
             "precision_macro": [0.033929, 0.5], "f1_macro": [0.039583, 0.318939]},
    "per_class": {"a": {"sensitivity": 0.75, "specificity": 0.5, "precision": 0.6, "f1": 0.666667, "auc": 0.6875},
                  "b": {"sensitivity": 0.0, "specificity": 1.0, "precision": 0.0, "f1": 0.0, "auc": 0.84375},
                  "c": {"sensitivity": None, "specificity": 0.625, "precision": None, "f1": 0.0, "auc": None}},
    "confusion_matrix": [[3, 0, 1], [2, 0, 2], [0, 0, 0]],
}
SEG = {
    "n_patients": 12, "n_slices": 72, "n_tumor_slices": 21, "dice_mean": 0.565053, "dice_median": 0.597546,
    "dice_ci95": [0.387482, 0.750311], "iou_mean": 0.428778, "iou_ci95": [0.341202, 0.516158],
    "hd95_mean_mm": 10.572282, "hd95_ci95": [6.627209, 14.520152], "hd95_undefined_patients": 1,
    "slice_sensitivity": 0.666667, "slice_sensitivity_ci95": [0.414093, 0.840492], "slice_specificity": 0.862745,
    "slice_specificity_ci95": [0.75871, 0.947398], "slice_auc": 0.89169, "slice_auc_ci95": [0.801157, 0.948453],
    "false_positive_slices": 7, "tumor_free_slices": 51, "tumor_free_patients": 2, "tumor_free_patients_correct": 2,
}


def check_classification(m, want):
    for key in SCALARS:
        assert close(m[key], want[key]), key
    for key, ci in want.get("ci95", {}).items():
        assert close(m["ci95"][key], ci), key
    for c, row in want.get("per_class", {}).items():
        for key, v in row.items():
            assert close(m["per_class"][c][key], v), (c, key)
    if "confusion_matrix" in want:
        assert m["confusion_matrix"] == want["confusion_matrix"]


def test_classification_metrics_over_images_are_unchanged():
    y, p = noisy()
    check_classification(classification_metrics(y, p, CLASSES, n_boot=200), CLS_IMAGES)


def test_classification_metrics_over_patients_are_unchanged():
    y, p = noisy()
    m = classification_metrics(y, p, CLASSES, groups=[f"p{i // 3}" for i in range(90)], n_boot=200, seed=3)
    check_classification(m, {**CLS_IMAGES, "ci95": CLS_PATIENT_CI})


def test_classification_edge_cases_are_unchanged():
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    p = np.array([[.9, .05, .05], [.6, .1, .3], [.2, .1, .7], [.5, .2, .3], [.1, .3, .6], [.8, .1, .1], [.7, .2, .1],
                  [.3, .3, .4]])
    check_classification(classification_metrics(y, p, CLASSES, n_boot=100), CLS_EDGE)


def test_segmentation_summary_is_unchanged():
    m = summarize(patients(), n_boot=300)
    for key, want in SEG.items():
        assert close(m[key], want), key
    assert len(m["per_patient"]) == 12


def test_bootstrap_intervals_are_unchanged():
    rng = np.random.default_rng(0)
    v = rng.normal(0.8, 0.1, 25)
    assert close(bootstrap_ci(v), [0.75774, 0.825599])
    assert close(bootstrap_ci(np.r_[v, np.nan], n_boot=500, seed=4), [0.76109, 0.827054])
    assert close(bootstrap_ci(v, stat=np.median, n_boot=300), [0.746433, 0.835151])
    vals = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    got = cluster_bootstrap_ci(6, lambda idx: vals[idx].mean() if len(set(idx)) > 1 else float("nan"), n_boot=400, seed=2)
    assert close(got, [0.333333, 1.0])
