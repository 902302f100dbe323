"""The results schema: Estimate and MetricsReport read every shape of metrics file tumorscope has written."""

import json
import math
from pathlib import Path

import pytest

from tumorscope.errors import TumorscopeError
from tumorscope.results import SCHEMA, Estimate, MetricsReport, legacy_ci_key

ZOO = Path(__file__).resolve().parents[1] / "tumorscope" / "bundle" / "zoo"

SEG_V1 = {  # segmentation metrics.json as `tumorscope evaluate` wrote it before the schema
    "task": "segmentation", "n_patients": 3, "n_slices": 12, "n_tumor_slices": 5, "dice_mean": 0.8, "dice_median": 0.82,
    "dice_ci95": [0.7, 0.9], "iou_mean": 0.7, "iou_ci95": [0.6, 0.8], "hd95_mean_mm": 4.5, "hd95_ci95": [3.0, 6.0],
    "hd95_undefined_patients": 0, "slice_sensitivity": 0.9, "slice_sensitivity_ci95": [0.8, 1.0],
    "slice_specificity": 0.95, "slice_specificity_ci95": [0.9, 1.0], "slice_auc": float("nan"),
    "slice_auc_ci95": [float("nan"), float("nan")], "false_positive_slices": 1, "tumor_free_slices": 7,
    "tumor_free_patients": 0, "tumor_free_patients_correct": 0, "per_patient": [{"id": "P1", "dice": 0.8}],
    "postprocessing": {"threshold": 0.5}, "model": "m", "data": "d", "split": None,
}
CLS_V1 = {  # classification metrics.json before the schema
    "task": "classification", "n": 4, "classes": ["a", "b"], "class_counts": {"a": 2, "b": 2}, "accuracy": 0.75,
    "auc_macro": 0.8, "ci95": {"accuracy": [0.5, 1.0], "auc_macro": [0.6, 1.0]}, "ci_unit": "image", "n_boot": 20,
    "per_class": {"a": {"sensitivity": 1.0, "precision": None}}, "confusion_matrix": [[2, 0], [1, 1]], "ece": 0.1,
    "calibration_bins": [{"low": 0.6, "high": 0.7, "n": 4, "accuracy": 0.75, "confidence": 0.65}], "tta": False,
    "predictions": [{"path": "x.png", "true": "a", "predicted": "a", "probabilities": {"a": 0.7, "b": 0.3}}],
}
EXPLAIN_V1 = {
    "task": "segmentation", "n_slices": 6, "n_patients": 2, "layer": "model.2", "tolerance_px": 3.0,
    "methods": {"gradcam": {"pointing_game": {"mean": 0.5, "ci95": [0.2, 0.8], "n": 6}, "seconds_per_slice": 0.1,
                            "mean_deletion_curve": [1.0, 0.5]}},
    "baselines": {"pointing_game_random_point": {"mean": 0.1, "ci95": [0.0, 0.3], "n": 6},
                  "mean_deletion_curve_random_order": [1.0, 0.9]},
}


def same(a, b):
    """Equal JSON values, NaN equal to NaN."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() <= b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@pytest.mark.parametrize("obj", [
    0.8, {"value": 0.8, "low": 0.7, "high": 0.9, "n": 10, "unit": "patient"},
    {"mean": 0.8, "ci95": [0.7, 0.9], "n": 10}, {"value": 0.8, "ci95": [0.7, 0.9]},
])
def test_estimate_reads_each_shape(obj):
    e = Estimate.from_json(obj, n=10, unit="patient")
    assert e.value == 0.8 and e.n == 10
    assert e.ci in (None, (0.7, 0.9)) and (e.ci is not None) == (obj != 0.8)
    assert Estimate.from_json(e.to_json()) == e


def test_estimate_formats_and_refuses_what_is_not_one():
    assert Estimate(0.8123, 0.79, 0.84).format() == "0.812 [0.790, 0.840]"
    assert Estimate(math.nan).format() == "n/a" and Estimate(2.0).format(1) == "2.0"
    assert Estimate.of(1.0, [0.5, 1.0], n=3).legacy() == {"mean": 1.0, "ci95": [0.5, 1.0], "n": 3}
    with pytest.raises(TumorscopeError, match="not an estimate"):
        Estimate.from_json({"sd": 1.0})
    with pytest.raises(TumorscopeError, match="not a confidence interval"):
        Estimate.from_json({"mean": 1.0, "ci95": [1.0]})


def test_legacy_ci_key_names():
    assert [legacy_ci_key(k) for k in ("dice_mean", "hd95_mean_mm", "slice_auc")] == \
        ["dice_ci95", "hd95_ci95", "slice_auc_ci95"]


def test_segmentation_v1_reads_its_ci95_keys_and_writes_them_back():
    r = MetricsReport.from_json(SEG_V1)
    assert r.estimate("dice_mean") == Estimate(0.8, 0.7, 0.9, n=3, unit="patient")
    assert r.estimate("hd95_mean_mm").ci == (3.0, 6.0) and r.estimate("dice_median").ci is None
    assert math.isnan(r.estimate("slice_auc").low)
    assert r.counts["n_patients"] == 3 and r.per_case == SEG_V1["per_patient"] and r.extra["model"] == "m"
    out = r.to_json()
    assert same(SEG_V1, out)  # every key an earlier reader looks for, with its value
    assert out["schema"] == SCHEMA and out["estimates"]["iou_mean"] == {"value": 0.7, "low": 0.6, "high": 0.8,
                                                                      "n": 3, "unit": "patient"}
    assert not any(k.endswith("_ci95") for k in r.extra)


def test_classification_v1_reads_the_ci95_dict():
    r = MetricsReport.from_json(CLS_V1)
    assert r.estimate("accuracy") == Estimate(0.75, 0.5, 1.0, n=4, unit="image")
    assert r.estimate("ece").ci is None and r.ci.n_boot == 20 and r.ci.unit == "image"
    assert r.classes == ["a", "b"] and r.confusion_matrix == [[2, 0], [1, 1]] and len(r.per_case) == 1
    assert same(CLS_V1, r.to_json())


def test_a_written_report_reads_back_equal():
    for body in (SEG_V1, CLS_V1):
        r = MetricsReport.from_json(body)
        again = MetricsReport.from_json(json.loads(json.dumps(r.to_json())))
        assert again.counts == r.counts and again.extra == r.extra and again.ci == r.ci
        assert all(same(again.metrics[k].to_json(), e.to_json()) for k, e in r.metrics.items())


def test_the_estimates_block_wins_over_the_flat_keys():
    body = {**CLS_V1, "estimates": {"accuracy": {"value": 0.75, "low": 0.55, "high": 0.95, "n": 2, "unit": "patient"}}}
    assert MetricsReport.from_json(body).estimate("accuracy") == Estimate(0.75, 0.55, 0.95, 2, "patient")


def test_explanation_results_read_per_method_and_write_back():
    r = MetricsReport.from_json(EXPLAIN_V1)
    assert r.kind == "explanation" and r.counts == {"n_slices": 6, "n_patients": 2}
    assert r.groups["gradcam"]["pointing_game"] == Estimate(0.5, 0.2, 0.8, 6, "patient")
    assert r.groups["baselines"]["pointing_game_random_point"].ci == (0.0, 0.3)
    assert same(EXPLAIN_V1, r.to_json())


@pytest.mark.parametrize("name", ["lgg-flair-seg", "brain-mri-tumor-type", "breast-us-lesion", "colon-histo-tumor"])
def test_every_zoo_cards_headline_metrics_read(name):
    headline = json.loads((ZOO / name / "config.json").read_text())["headline_metrics"]
    r = MetricsReport.from_json(headline)
    if name == "lgg-flair-seg":
        assert r.estimate("cv_dice").ci == tuple(headline["cv_dice_ci95"]) and r.counts["patients"] == 83
    else:
        assert r.value("cv_accuracy") == headline["cv_accuracy"] and r.counts["cv_n"] == headline["cv_n"]


def test_reading_a_broken_file_names_it(tmp_path):
    bad = tmp_path / "metrics.json"
    bad.write_text('{"accuracy": 0.5, "ci95": {"accuracy": [0.1]}}')
    with pytest.raises(TumorscopeError, match="metrics.json: not a confidence interval"):
        MetricsReport.read(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(TumorscopeError, match="must be a JSON object"):
        MetricsReport.read(bad)
