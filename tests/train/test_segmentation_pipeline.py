"""train -> resume -> evaluate -> predict on a tiny synthetic kaggle_3m dataset, through the CLI."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.synthetic import read_segmentation_metrics
from tumorscope.bundle import load_bundle
from tumorscope.cli import main


@pytest.fixture(scope="module")
def trained(tiny_seg_run):
    return tiny_seg_run


def test_run_folder_has_everything(trained):
    _, run = trained
    for name in ("config.json", "splits.json", "metrics.csv", "training_curves.png", "checkpoint.pt", "best.pt"):
        assert (run / name).exists(), name
    bundle = load_bundle(run)
    assert bundle.task == "segmentation" and bundle.preprocessor.size == (32, 32)
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    splits = json.loads((run / "splits.json").read_text())["folds"][0]
    assert not set(splits["train"]["groups"]) & set(splits["val"]["groups"])


def test_resume_continues_from_last_epoch_where_the_run_now_is(trained, tmp_path):
    _, run = trained
    moved = tmp_path / "moved"
    shutil.copytree(run, moved)  # a run folder copied elsewhere resumes in place, not at its old path
    cfg = json.loads((moved / "config.json").read_text())
    cfg["epochs"] = 3
    (moved / "config.json").write_text(json.dumps(cfg))
    before = (run / "metrics.csv").read_text()
    assert main(["train", "--resume", "--out", str(moved)]) == 0
    rows = (moved / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 4 and rows[-1].startswith("2")
    assert (run / "metrics.csv").read_text() == before
    assert json.loads((moved / "config.json").read_text())["out"] == str(moved)


def test_evaluate_writes_required_keys(trained, tmp_path):
    root, run = trained
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(run), "--data", str(root), "--out", str(out), "--boot", "50"]) == 0
    m = read_segmentation_metrics(out)
    assert m["task"] == "segmentation" and m["n_patients"] == 6 and m["n_slices"] == 24
    assert 0.0 <= m["dice_mean"] <= 1.0 and m["dice_ci95"][0] <= m["dice_ci95"][1]
    assert (out / "per_patient.csv").read_text().count("\n") == 7


def test_predict_patient_folder_writes_masks_overlays_summary(trained, tmp_path):
    root, run = trained
    patient = next((root / "kaggle_3m").iterdir())
    out = tmp_path / "pred"
    assert main(["predict", "--model", str(run), "-i", str(patient), "-o", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {"tumor_found", "probability", "volume_pixels", "n_components", "slices_with_tumor"} <= set(summary)
    assert len(list((out / "masks").glob("*_mask.png"))) == 4
    assert list((out / "overlays").glob("*.png"))


def test_predict_bad_input_is_one_line_and_leaves_no_output(trained, tmp_path):
    _, run = trained
    bad = tmp_path / "not_an_image.png"
    bad.write_text("hello")
    out = tmp_path / "pred_bad"
    proc = subprocess.run(
        [sys.executable, "-m", "tumorscope", "predict", "--model", str(run), "-i", str(bad), "-o", str(out)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 2
    assert "not_an_image.png" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_demo_on_synthetic_phantom_is_labelled_synthetic(trained, tmp_path, capsys):
    _, run = trained
    assert main(["demo", "--model", str(run), "--out", str(tmp_path / "demo"), "--synthetic"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "results:" in out
    summary = json.loads((tmp_path / "demo" / "prediction" / "summary.json").read_text())
    assert summary["synthetic_example"] is True
    assert all(name.startswith("synthetic_phantom") for name in summary["slices_with_tumor"] + [
        p.name for p in (tmp_path / "demo" / "prediction" / "masks").iterdir()])
