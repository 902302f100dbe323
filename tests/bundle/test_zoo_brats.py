"""The bundled brats-glioma-seg model (the 5 fold models of the BraTS 2018 CV as one ensemble): listed,
verified, small, its card carries the commands and CV numbers, and it segments a real case in BraTS labels."""

import json
import shutil

import numpy as np
import pytest

from tumorscope.bundle import load_bundle, zoo_models
from tumorscope.bundle.bundle import ZOO
from tumorscope.cli import main
from tumorscope.data.brats_cases import read_labels

NAME = "brats-glioma-seg"
CASE = "Brats18_CBICA_ATB_1"

pytestmark = pytest.mark.skipif(not (ZOO / NAME / "config.json").exists(), reason=f"{NAME} is not bundled")


def test_listed_verified_and_described():
    assert NAME in {b.name for b in zoo_models()}
    b = load_bundle(NAME)
    assert b.config["model"]["name"] == "ensemble" and b.config["model"]["options"]["multilabel"] is True
    assert len(b.config["model"]["options"]["members"]) == 5 and b.classes == ["WT", "TC", "ET"]
    assert b.config["brats"]["modalities"] == ["flair", "t1", "t1ce", "t2"]
    for text in ("tumorscope cv", "tumorscope ensemble", "tumorscope evaluate", "nnU-Net", "88.95"):
        assert text in b.card


@pytest.mark.shared_data
def test_segments_a_real_case_in_brats_labels(brats_dir, tmp_path):
    case = brats_dir / "cases" / CASE
    out = tmp_path / "pred"
    assert main(["predict", "--model", NAME, "-i", str(case), "-o", str(out)]) == 0
    pred, _ = read_labels(out / f"{CASE}.nii.gz")
    truth, _ = read_labels(case / f"{CASE}_seg.nii.gz")
    assert pred.shape == truth.shape and set(np.unique(pred)) <= {0, 1, 2, 4}
    wt_dice = 2 * ((pred > 0) & (truth > 0)).sum() / ((pred > 0).sum() + (truth > 0).sum())
    assert wt_dice > 0.7  # a case the fold models trained on (4 of 5): a sanity check, not a score
    summary = json.loads((out / "summary.json").read_text())
    assert summary["regions"]["WT"]["voxels"] == int((pred > 0).sum())
    assert len(list((out / "overlays").glob("*.png"))) == len(summary["slices_with_tumor"]) > 0


@pytest.mark.shared_data
def test_a_case_missing_modalities_is_one_clear_error(brats_dir, tmp_path, capsys):
    case = tmp_path / CASE
    case.mkdir()
    for tag in ("flair", "t1"):
        shutil.copy(brats_dir / "cases" / CASE / f"{CASE}_{tag}.nii.gz", case)
    assert main(["predict", "--model", NAME, "-i", str(case), "-o", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err.strip()
    assert "missing modality t1ce, t2 (present: flair, t1;" in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
