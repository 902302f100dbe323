"""Classical models on the expert tumor mask (only with a data.csv target) and on deep / joined feature tables
(``tumorscope features --kind deep`` / ``--join``): the comparison tables of docs/comparison.md."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.synthetic import write_kaggle3m
from tumorscope.bundle import load_bundle
from tumorscope.cli import main

FAST = ["--task", "classification", "--threads", "1", "--select", "univariate:8", "--model", "logreg"]


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_kaggle3m(tmp_path_factory.mktemp("lgg"), n_patients=8, n_slices=2, size=48)
    with (root / "kaggle_3m" / "data.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Patient", "neoplasm_histologic_grade", "RNASeqCluster"])
        for p in range(8):  # grades alternate in pairs: both with and without tumor; clusters 1-3 (3: two patients)
            w.writerow([f"TCGA_XX_{p:04d}", 1 + (p // 2) % 2, 1 + p % 3])
    return root


def test_the_expert_mask_is_refused_for_tumor_presence(kaggle: Path, tmp_path: Path, capsys):
    assert main(["train", *FAST, "--data", str(kaggle), "--roi", "mask", "--out", str(tmp_path / "r")]) == 2
    assert "for tumor presence the mask is the label" in capsys.readouterr().err


@pytest.fixture(scope="module")
def deep_table(kaggle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = tmp_path_factory.mktemp("deep") / "deep.csv"
    assert main(["features", "--data", str(kaggle), "--kind", "deep", "--roi", "whole", "--level", "volume",
                 "-o", str(table)]) == 0
    return table


def test_cv_on_a_deep_table_with_a_data_csv_target(kaggle: Path, deep_table: Path, tmp_path: Path):
    table = deep_table
    out = tmp_path / "cv"
    assert main(["cv", *FAST, "--data", str(kaggle), "--roi", "whole", "--features", str(table), "--folds", "2",
                 "--val-fraction", "0", "--target", "neoplasm_histologic_grade", "--out", str(out)]) == 0
    spec = load_bundle(out / "fold0" / "bundle").config["classical"]
    assert spec["features"]["kind"] == "deep" and spec["target"] == "neoplasm_histologic_grade"
    assert all(c.startswith("deep_") or c == "roi_pixels" for c in spec["columns"])
    preds = [p for f in (0, 1) for p in json.loads((out / f"fold{f}" / "test_metrics.json").read_text())["predictions"]]
    assert len(preds) == 8 and {p["true"] for p in preds} == {"1", "2"}  # one row per patient, every patient once
    assert len({p["group"] for p in preds}) == 8


def test_a_deep_table_without_the_runs_roi_is_refused(kaggle: Path, tmp_path: Path, capsys):
    table = tmp_path / "deep.csv"
    assert main(["features", "--data", str(kaggle), "--kind", "deep", "--roi", "whole", "--level", "volume",
                 "-o", str(table)]) == 0
    assert main(["train", *FAST, "--data", str(kaggle), "--roi", "mask", "--features", str(table),
                 "--target", "neoplasm_histologic_grade", "--out", str(tmp_path / "r")]) == 2
    assert "has no 'mask' rows" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["neoplasm_histologic_grade", "RNASeqCluster"])
def test_numeric_codes_and_classes_missing_from_validation(target: str, kaggle: Path, deep_table: Path,
                                                          tmp_path: Path):
    """Grades "1"/"2" as labels (scikit-learn's balanced random forest refuses numeric-looking strings: fitted on
    class codes), and a cluster the 2 validation patients lack (importance falls back to the drop in accuracy)."""
    out = tmp_path / "rf"
    assert main(["train", "--task", "classification", "--threads", "1", "--model", "rf", "--select", "univariate:8",
                 "--data", str(kaggle), "--roi", "whole", "--features", str(deep_table), "--val-fraction",
                 "0.25", "--target", target, "--out", str(out)]) == 0
    bundle = load_bundle(out / "bundle")
    assert list(bundle.pipeline.classes_) == list(range(len(bundle.classes)))  # fitted on codes
    val = json.loads((out / "metrics.json").read_text())
    assert len(val["predictions"]) == 2 and all(set(p["probabilities"]) == set(bundle.classes) for p in val["predictions"])
    assert (out / "importance.csv").read_text().count("\n") > 1  # SHAP + permutation importance written
