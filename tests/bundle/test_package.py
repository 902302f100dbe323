"""Model-card metric tables from segmentation, classification and headline metrics of any version."""

from tumorscope.bundle.package import metrics_table
from tumorscope.results import MetricsReport


def test_metrics_table_finds_each_kind_of_ci():
    seg = {"task": "segmentation", "dice_mean": 0.81234, "dice_ci95": [0.79, 0.84], "n_patients": 83, "tta": True}
    cls = {"task": "classification", "accuracy": 0.9, "ci95": {"accuracy": [0.85, 0.95]}}
    assert metrics_table(seg, ["dice_mean", "n_patients", "tta", "absent"]).splitlines()[2:] == [
        "| dice_mean | 0.812 | [0.790, 0.840] |", "| n_patients | 83 |  |", "| tta | True |  |"]
    assert metrics_table(cls, ["accuracy"]).endswith("| accuracy | 0.900 | [0.850, 0.950] |")
    assert metrics_table(MetricsReport.from_json(cls), ["accuracy"]) == metrics_table(cls, ["accuracy"])
