"""Classification metrics against scikit-learn, calibration, bootstrap units."""

import numpy as np
import pytest
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from tests.synthetic import noisy_predictions
from tumorscope.evaluate.classification import (
    binary_auc,
    calibration_bins,
    classification_metrics,
    classification_report,
    confusion_matrix,
    metrics_by_source,
    metrics_from_predictions,
    per_class_rates,
)

CLASSES = ["a", "b", "c"]




def test_metrics_match_scikit_learn():
    y, p = noisy_predictions()
    m = classification_metrics(y, p, CLASSES, n_boot=200)
    pred = p.argmax(1)
    assert m["accuracy"] == pytest.approx((pred == y).mean())
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["sensitivity_macro"] == pytest.approx(recall_score(y, pred, average="macro"))
    assert m["precision_macro"] == pytest.approx(precision_score(y, pred, average="macro"))
    assert m["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["auc_macro"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    spec_a = ((pred != 0) & (y != 0)).sum() / (y != 0).sum()
    assert m["per_class"]["a"]["specificity"] == pytest.approx(spec_a)
    assert np.array(m["confusion_matrix"]).sum() == 90 and m["n"] == 90
    for key, (lo, hi) in m["ci95"].items():
        assert lo <= m[key] <= hi, key
    assert m["ci_unit"] == "image"


def test_binary_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(1)
    t = rng.random(60) < 0.4
    s = np.round(rng.random(60), 1)  # many ties
    assert binary_auc(t, s) == pytest.approx(roc_auc_score(t, s))
    assert np.isnan(binary_auc(np.zeros(5, bool), s[:5]))


def test_ece_is_zero_when_confidence_equals_accuracy():
    y = np.array([0, 0, 0, 1])  # confidence 0.75 everywhere, 3 of 4 right
    p = np.tile([0.75, 0.25], (4, 1))
    ece, bins = calibration_bins(y, p)
    assert ece == pytest.approx(0.0) and len(bins) == 1 and bins[0]["n"] == 4
    ece_bad, _ = calibration_bins(np.array([1, 1, 1, 1]), p)
    assert ece_bad == pytest.approx(0.75)


def test_patients_are_the_bootstrap_unit_when_known():
    y, p = noisy_predictions(30)
    groups = [f"patient{i // 3}" for i in range(30)]
    m = classification_metrics(y, p, CLASSES, groups=groups, n_boot=100)
    assert m["ci_unit"] == "patient"
    preds = [{"true": CLASSES[t], "probabilities": dict(zip(CLASSES, row)), "group": None} for t, row in zip(y, p)]
    again = metrics_from_predictions(preds, CLASSES, n_boot=100)
    assert again["accuracy"] == m["accuracy"] and again["ci_unit"] == "image"


def test_metrics_by_source_scores_each_source_folder_alone():
    y, p = noisy_predictions()
    preds = [{"path": f"x{i}", "group": None, "source": "Testing" if i % 3 == 0 else "Training", "true": CLASSES[t],
              "probabilities": dict(zip(CLASSES, map(float, row)))} for i, (t, row) in enumerate(zip(y, p))]
    by = metrics_by_source(preds, CLASSES, n_boot=50)
    test = [i for i in range(len(y)) if i % 3 == 0]
    assert set(by) == {"Testing", "Training"} and by["Testing"]["n"] == len(test)
    assert by["Testing"]["accuracy"] == pytest.approx((p[test].argmax(1) == y[test]).mean())
    assert metrics_by_source([{**q, "source": "Training"} for q in preds], CLASSES) == {}  # one source: nothing


@pytest.mark.parametrize("seed", range(4))
def test_per_class_rates_equal_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 25)
    pred = np.where(rng.random(25) < 0.6, y, rng.integers(0, 4, 25))  # class 3: predicted, never true
    cm = confusion_matrix(y, pred, 4)
    assert cm.tolist() == sk_confusion_matrix(y, pred, labels=range(4)).tolist()
    rates = per_class_rates(cm)
    prec, rec, f1, support = precision_recall_fscore_support(y, pred, labels=range(4), zero_division=0.0)
    present = support > 0
    np.testing.assert_allclose(rates["sensitivity"][present], rec[present])
    np.testing.assert_allclose(rates["precision"][present], prec[present])
    np.testing.assert_allclose(rates["f1"], f1)
    assert np.isnan(rates["sensitivity"][3]) and np.isnan(rates["precision"][3])  # undefined, not 0


def test_the_report_carries_estimates_with_their_unit():
    y, p = noisy_predictions(30)
    r = classification_report(y, p, CLASSES, groups=[f"patient{i // 3}" for i in range(30)], n_boot=50)
    acc = r.estimate("accuracy")
    assert acc.n == 10 and acc.unit == "patient" and acc.low <= acc.value <= acc.high
    assert r.ci.n_boot == 50 and r.counts["n"] == 30 and r.per_case == []
    assert r.to_json()["ci95"]["accuracy"] == [acc.low, acc.high]
