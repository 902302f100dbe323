"""Classical models on real LGG patients (../shared/data/lgg_mri_segmentation; skipped when absent): a short
training run on four patients, and the bundled ``lgg-radiomics-*`` model's evaluate and predict on patients."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tumorscope.bundle import load_bundle
from tumorscope.bundle.bundle import ZOO
from tumorscope.cli import main

pytestmark = pytest.mark.shared_data

PATIENTS = ("TCGA_CS_4941_19960909", "TCGA_CS_4942_19970222", "TCGA_DU_5852_19950709", "TCGA_HT_7877_19980917")


def _subset(lgg_dir: Path, root: Path, names: tuple[str, ...]) -> Path:
    (root / "kaggle_3m").mkdir(parents=True)
    for name in names:
        (root / "kaggle_3m" / name).symlink_to((lgg_dir / "kaggle_3m" / name).resolve())
    return root


def _zoo_model() -> str:
    found = sorted(p.name for p in ZOO.glob("lgg-radiomics-*") if (p / "config.json").exists())
    if not found:
        pytest.skip("no lgg-radiomics-* bundle in the zoo")
    return found[0]


def test_short_real_training_run(lgg_dir: Path, tmp_path: Path):
    data = _subset(lgg_dir, tmp_path / "lgg4", PATIENTS)
    run = tmp_path / "run"
    assert main(["train", "--task", "classification", "--model", "logreg", "--filters", "none", "--select",
                 "univariate:20", "--patient-relative", "--val-fraction", "0.5", "--threads", "1", "--data", str(data),
                 "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["patients_train"] + summary["patients_val"] == 4
    n_slices = sum(len(list((data / "kaggle_3m" / p).glob("*_mask.tif"))) for p in PATIENTS)
    assert summary["n_train"] + summary["n_val"] == n_slices  # every slice has a row (empty foregrounds imputed)
    assert metrics["n"] == summary["n_val"] and 0 <= metrics["auc"] <= 1
    assert (run / "importance.csv").stat().st_size > 0


def test_bundled_model_evaluates_every_slice_and_predicts_a_patient(lgg_dir: Path, tmp_path: Path):
    name = _zoo_model()
    bundle = load_bundle(name)
    assert bundle.is_classical and sum(f.stat().st_size for f in bundle.path.iterdir()) < 20 * 2**20
    data = _subset(lgg_dir, tmp_path / "lgg2", PATIENTS[:2])
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", name, "--data", str(data), "--out", str(out), "--boot", "200"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    n_slices = sum(len(list((data / "kaggle_3m" / p).glob("*_mask.tif"))) for p in PATIENTS[:2])
    assert metrics["n"] == n_slices and metrics["estimates"]["sensitivity"]["unit"] == "patient"
    assert {"auc", "sensitivity", "specificity"} <= set(metrics["estimates"])
    pred = tmp_path / "pred"
    patient = data / "kaggle_3m" / PATIENTS[1]
    assert main(["predict", "--model", name, "-i", str(patient), "-o", str(pred)]) == 0
    with (pred / "predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(list(patient.glob("*_mask.tif")))
    by_image = {Path(p["path"]).stem: p["probabilities"]["tumor"] for p in metrics["predictions"]}
    assert all(Path(p["path"]).is_file() for p in metrics["predictions"])  # keyed like a network's, to pair
    for r in rows:  # the patient's slices score the same alone as within the evaluated dataset
        assert float(r["p_tumor"]) == pytest.approx(by_image[r["image_id"]], abs=1e-5)
    summary = json.loads((pred / "summary.json").read_text())
    assert summary["model"] == name and summary["n_slices"] == len(rows)
