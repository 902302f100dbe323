"""``tumorscope evaluate`` of a classifier: metrics.json in the results schema, and the report stage's figures."""

import argparse
import json

from tests.explain.helpers import tiny_classification_bundle, write_busi
from tumorscope.cli import main
from tumorscope.evaluate.cli import format_metrics, run_evaluate
from tumorscope.results import SCHEMA, MetricsReport

CLASSES = ["benign", "malignant", "normal"]
PNGS = ["roc_curves.png", "confusion_matrix.png", "calibration.png"]


def test_evaluate_writes_metrics_and_figures_and_the_stage_alone_writes_metrics(tmp_path, capsys):
    bundle = tiny_classification_bundle(tmp_path / "bundle", CLASSES, steps=5)
    data = write_busi(tmp_path / "busi", n_per_class=2)
    out = tmp_path / "ev"
    assert main(["evaluate", "--model", str(bundle.path), "--data", str(data), "--out", str(out), "--boot", "20"]) == 0
    assert "accuracy" in capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert m["schema"] == SCHEMA and m["figures"] == PNGS and all((out / f).stat().st_size > 0 for f in PNGS)
    assert m["n"] == 6 and len(m["predictions"]) == 6 and set(m["ci95"]) >= {"accuracy", "auc_macro"}
    assert m["estimates"]["accuracy"]["value"] == m["accuracy"] and m["ci_unit"] == "image"
    assert m["model"] == bundle.name and m["data"] == str(data)

    alone = tmp_path / "alone"
    args = argparse.Namespace(model=str(bundle.path), data=data, out=alone, split=None, splits=None, fold=0, tta=None,
                              min_size=None, boot=20)
    assert run_evaluate(args) == 0
    again = json.loads((alone / "metrics.json").read_text())
    assert "figures" not in again and not list(alone.glob("*.png"))
    assert again["accuracy"] == m["accuracy"] and again["ci95"] == m["ci95"]
    assert format_metrics(again) == format_metrics(MetricsReport.from_json(m))
