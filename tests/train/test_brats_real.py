"""A short real-data BraTS run on the 4 shared BraTS 2018 cases: a few iterations of one CV fold write the plan
at the budget's spacing, a bundle and a held-out label map scored the BraTS way."""

import json

import pytest

from tumorscope.cli import main


@pytest.mark.shared_data
def test_one_tiny_fold_on_real_cases(brats_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TUMORSCOPE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "fold0"
    code = main(["train", "--data", str(brats_dir), "--model", "unet3d", "--width", "4", "--epochs", "1",
                 "--batch-size", "2", "--folds", "4", "--fold", "0", "--val-fraction", "0.25", "--out", str(run)])
    assert code == 0
    plan = json.loads((run / "plan.json").read_text())
    assert plan["spacing"] == [2.5, 2.5, 2.5] and plan["patch_size"] == [48, 48, 48]
    assert 50 <= plan["median_box"][0] <= 70  # the brain box of a 155-mm field of view at 2.5 mm
    test = json.loads((run / "test_metrics.json").read_text())
    assert test["regions"]["WT"]["n_cases"] == 1 and len(list((run / "predictions").glob("*.nii.gz"))) == 1
