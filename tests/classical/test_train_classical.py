"""``tumorscope train`` / ``cv`` / ``evaluate`` / ``predict`` with a classical model on a tiny synthetic kaggle_3m
dataset (features extracted on the fly from the brain foreground), and the refusals of bad options."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.synthetic import write_kaggle3m
from tumorscope.bundle import load_bundle
from tumorscope.cli import main
from tumorscope.data.dataset import load_dataset
from tumorscope.data.splits import load_splits

FAST = ["--task", "classification", "--filters", "none", "--threads", "1", "--select", "univariate:8"]


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kaggle3m(tmp_path_factory.mktemp("lgg"), n_patients=6, n_slices=6, size=64)


@pytest.fixture(scope="module")
def run(kaggle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "rf"
    assert main(["train", *FAST, "--model", "rf", "--hparams", "n_estimators=50", "--data", str(kaggle),
                 "--val-fraction", "0.34", "--out", str(out)]) == 0
    return out


def test_train_writes_the_run_folder_of_a_network(run: Path):
    for name in ("config.json", "splits.json", "metrics.json", "train_summary.json", "features.csv",
                 "importance.csv", "importance.png", "val_eval/roc_curves.png", "bundle/config.json",
                 "bundle/pipeline.joblib"):
        assert (run / name).is_file(), name
    split = load_splits(run / "splits.json")[0]
    assert not set(split.groups["train"]) & set(split.groups["val"])
    bundle = load_bundle(run)
    assert bundle.is_classical and bundle.classes == ["no_tumor", "tumor"]
    spec = bundle.config["classical"]
    assert spec["features"]["roi"] == "foreground" and spec["positive"] == "tumor"
    assert sorted(spec["training_patients"]) == sorted(split.groups["train"])  # fitted on training patients only
    assert len(spec["selected"]) == 8 and "tumorscope train" in bundle.config["training"]["command"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["split"] == "val" and metrics["estimates"]["auc"]["unit"] == "patient"
    assert {p["group"] for p in metrics["predictions"]} == set(split.groups["val"])
    assert 0 <= metrics["sensitivity"] <= 1 and 0 <= metrics["specificity"] <= 1
    with (run / "importance.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["feature"] for r in rows] and sorted(r["feature"] for r in rows) == sorted(spec["selected"])


def test_features_are_cached_and_reused(run: Path, kaggle: Path):
    table = run / "features.csv"
    before = table.stat().st_mtime_ns
    assert main(["train", *FAST, "--model", "logreg", "--patient-relative", "--data", str(kaggle),
                 "--val-fraction", "0.34", "--out", str(run)]) == 0
    assert table.stat().st_mtime_ns == before
    bundle = load_bundle(run)
    assert bundle.config["model"]["name"] == "logreg" and bundle.config["classical"]["features"]["patient_relative"]
    columns = bundle.config["classical"]["columns"]
    assert len(columns) % 2 == 0 and columns[len(columns) // 2:] == [c + "@patient" for c in columns[: len(columns) // 2]]


def test_bundle_with_a_checksum_refuses_an_edited_pipeline(run: Path, tmp_path: Path):
    import shutil

    from tumorscope.errors import TumorscopeError

    copy = tmp_path / "b"
    shutil.copytree(run / "bundle", copy)
    with (copy / "pipeline.joblib").open("ab") as f:
        f.write(b"x")
    with pytest.raises(TumorscopeError, match="checksum"):
        load_bundle(copy)


def test_evaluate_and_predict_a_classical_bundle(run: Path, kaggle: Path, tmp_path: Path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(run), "--data", str(kaggle), "--split", "val", "--out", str(out),
                 "--boot", "200"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    val = json.loads((run / "metrics.json").read_text())
    assert metrics["n"] == val["n"] and metrics["auc"] == pytest.approx(val["auc"])
    assert metrics["patients_seen_in_training"] == 0 and (out / "roc_curves.png").exists()
    assert "specificity" in capsys.readouterr().out
    patient = next((kaggle / "kaggle_3m").iterdir())
    pred = tmp_path / "pred"
    assert main(["predict", "--model", str(run), "-i", str(patient), "-o", str(pred)]) == 0
    with (pred / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and [int(r["slice_index"]) for r in rows] == list(range(1, 7))
    assert all(abs(float(r["p_tumor"]) + float(r["p_no_tumor"]) - 1) < 1e-5 for r in rows)
    summary = json.loads((pred / "summary.json").read_text())
    assert summary["n_slices"] == 6 and summary["positive_class"] == "tumor"
    assert summary["tumor_found"] == any(r["predicted"] == "tumor" for r in rows)


def test_cv_pools_held_out_folds(kaggle: Path, tmp_path: Path):
    out = tmp_path / "cv"
    assert main(["cv", *FAST, "--model", "logreg", "--data", str(kaggle), "--folds", "3", "--out", str(out)]) == 0
    summary = json.loads((out / "cv_summary.json").read_text())
    assert summary["folds_done"] == 3 and summary["n_images"] == 36  # every slice held out once
    fold = json.loads((out / "fold0" / "test_metrics.json").read_text())
    assert fold["split"] == "test" and "auc" in fold["estimates"]
    # held-out rows are keyed by their image file, as a network's are: compare --tests pairs the two
    samples = {str(s.image) for s in load_dataset(kaggle).samples}
    assert {p["path"] for p in fold["predictions"]} <= samples and len(fold["predictions"]) > 0


@pytest.mark.parametrize("argv, message", [
    (["--task", "segmentation", "--model", "svm"], "give --task classification"),
    (["--task", "classification", "--model", "resnet18", "--select", "rfe:5"], "--select is an option of the classical"),
    (["--task", "classification", "--model", "svm", "--roi", "mask"], "--roi 'mask'"),
    (["--task", "classification", "--model", "svm", "--select", "pca:3"], "--select 'pca:3'"),
    (["--task", "classification", "--model", "rf", "--hparams", "C=1"], "rf has no parameter 'C'"),
])
def test_bad_options_are_one_line(argv: list[str], message: str, kaggle: Path, tmp_path: Path, capsys):
    assert main(["train", *argv, "--data", str(kaggle), "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
