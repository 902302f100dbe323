"""``compare`` table cells quote a metric with its CI from any version of a classification metrics file."""

from tumorscope.evaluate.compare import _cell

V1 = {"task": "classification", "accuracy": 0.75, "ci95": {"accuracy": [0.5, 1.0]}, "f1_macro": 0.7}
V2 = {**V1, "estimates": {"accuracy": {"value": 0.75, "low": 0.55, "high": 0.95}}}


def test_cells_show_value_and_interval():
    assert _cell(V1, "accuracy") == "0.750 [0.500, 1.000]"
    assert _cell(V2, "accuracy") == "0.750 [0.550, 0.950]"
    assert _cell(V1, "f1_macro") == "0.700"
    assert _cell(V1, "auc_macro") == "-"
