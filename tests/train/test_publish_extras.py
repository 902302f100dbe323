"""Extra results on a model card: an evaluation, or another CV of the recipe shown as a replication."""
import json
from pathlib import Path

from tumorscope.bundle.publish.sections import extra_section

KEYS = ["accuracy", "balanced_accuracy", "auc_macro", "sensitivity_macro", "specificity_macro", "precision_macro",
        "f1_macro", "ece"]


def _metrics(acc: float, n: int) -> dict:
    m = {k: acc for k in KEYS} | {"n": n, "task": "classification"}
    m["ci95"] = {k: [acc - 0.01, acc + 0.01] for k in KEYS}
    return m


def test_cv_folder_is_a_replication_with_fold_spread(tmp_path: Path) -> None:
    across = {k: {"mean": 0.95, "sd": 0.012, "per_fold": [0.94, 0.96]} for k in KEYS}
    (tmp_path / "cv_summary.json").write_text(json.dumps({"folds_done": 5, "pooled": _metrics(0.9503, 1469),
                                                          "across_folds": across}))
    lines, key, acc = extra_section("new seeds", tmp_path)
    text = "\n".join(lines)
    assert (key, acc) == ("replication_accuracy", 0.9503)
    assert lines[0] == "## Replication: new seeds"
    assert "5 folds, n = 1469 held-out images" in text
    assert "| Accuracy | 0.950 [0.940, 0.960] | 0.950 ± 0.012 |" in lines


def test_evaluation_folder_is_an_extra_check(tmp_path: Path) -> None:
    m = _metrics(0.871, 201) | {"excluded_seen_in_training": 99}
    (tmp_path / "metrics.json").write_text(json.dumps(m))
    lines, key, acc = extra_section("Testing/ folder", tmp_path)
    assert (key, acc) == ("testing_folder_accuracy", 0.871) and lines[0] == "## Extra held-out check: Testing/ folder"
    assert "n = 201 images (99 more were left out" in "\n".join(lines)
    assert "± " not in "\n".join(lines)  # no over-folds column for a single evaluation
