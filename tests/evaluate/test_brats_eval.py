"""``tumorscope evaluate --predictions DIR --data BRATS_DIR``: metrics.json regions/per_case, errors, real cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.synthetic import brats_labels, write_brats_case, write_kaggle3m, write_nifti_volume
from tumorscope.cli import main
from tumorscope.evaluate.brats_metrics import MAX_HD95_MM


def _run(data: Path, preds: Path, out: Path) -> dict:
    assert main(["evaluate", "--predictions", str(preds), "--data", str(data), "--out", str(out),
                 "--boot", "200"]) == 0
    return json.loads((out / "metrics.json").read_text())


def test_synthetic_cases_regions_and_per_case(tmp_path: Path) -> None:
    data, preds = tmp_path / "data", tmp_path / "preds"
    write_brats_case(data, "case_a")
    write_brats_case(data, "case_b", brats_labels(et=False))  # empty ET in truth and prediction
    write_brats_case(data, "case_c")
    write_nifti_volume(preds / "case_a.nii.gz", brats_labels())
    write_nifti_volume(preds / "sub" / "case_b_seg.nii.gz", brats_labels(et=False))
    missed = brats_labels()
    missed[missed == 4] = 1  # ET called necrosis: ET empty in the prediction, TC unchanged
    write_nifti_volume(preds / "case_c.nii.gz", missed)
    m = _run(data, preds, tmp_path / "out")
    assert m["task"] == "brats" and m["n_cases"] == 3
    et, tc = m["regions"]["ET"], m["regions"]["TC"]
    assert et["dice_mean"] == pytest.approx(2 / 3) and et["dice_median"] == 1.0
    assert et["hd95_mean_mm"] == pytest.approx(MAX_HD95_MM / 3)
    assert len(et["dice_ci95"]) == 2 and et["dice_ci95"][0] <= 2 / 3 <= et["dice_ci95"][1]
    assert et["lesion_sensitivity_mean"] == pytest.approx(0.5)  # case_b has no lesion: left out of the mean
    assert (et["lesions"], et["lesions_detected"], et["n_empty_truth"]) == (2, 1, 1)
    assert tc["dice_mean"] == 1.0 and m["regions"]["WT"]["hd95_mean_mm"] == 0.0
    assert et["volume_error_ml_mean"] == pytest.approx(-0.096 / 3)
    rows = {r["case"]: r for r in m["per_case"]}
    assert (rows["case_c"]["ET_dice"], rows["case_c"]["ET_hd95_mm"]) == (0.0, MAX_HD95_MM)
    assert (rows["case_b"]["ET_dice"], rows["case_b"]["ET_hd95_mm"]) == (1.0, 0.0)
    assert m["conventions"]["max_hd95_mm"] == MAX_HD95_MM
    assert m["estimates"]["ET_dice_mean"]["unit"] == "case"
    assert (tmp_path / "out" / "per_case.csv").read_text().startswith("case,prediction,WT_dice")


def test_brats2023_labels(tmp_path: Path) -> None:
    data, preds = tmp_path / "data", tmp_path / "preds"
    labels = brats_labels()
    labels[labels == 4] = 3
    write_brats_case(data, "BraTS-GLI-00001-000", labels, naming="2023")
    write_nifti_volume(preds / "BraTS-GLI-00001-000.nii.gz", labels)
    m = _run(data, preds, tmp_path / "out")
    assert m["per_case"][0]["ET_truth_ml"] == pytest.approx(0.096) and m["regions"]["ET"]["dice_mean"] == 1.0


def test_errors_name_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, preds = tmp_path / "data", tmp_path / "preds"
    write_brats_case(data, "case_a")
    write_brats_case(data, "case_b")
    write_nifti_volume(preds / "case_a.nii.gz", brats_labels())
    args = ["evaluate", "--predictions", str(preds), "--data", str(data), "--out", str(tmp_path / "o")]
    assert main(args) == 2
    assert "no prediction for 1 of 2 case(s): case_b" in capsys.readouterr().err
    write_nifti_volume(preds / "case_b.nii.gz", np.zeros((16, 20, 20), np.uint8))
    assert main(args) == 2
    assert "case_b.nii.gz: prediction shape (20, 20, 16) differs" in capsys.readouterr().err
    write_nifti_volume(preds / "case_b.nii.gz", brats_labels() * 2)
    assert main(args) == 2
    assert "labels [8] are not brats2018 labels [0, 1, 2, 4]" in capsys.readouterr().err
    lgg = write_kaggle3m(tmp_path / "lgg", n_patients=2, n_slices=2, size=16)
    assert main(["evaluate", "--predictions", str(preds), "--data", str(lgg), "--out", str(tmp_path / "o")]) == 2
    assert "needs a BraTS dataset" in capsys.readouterr().err


def test_real_cases_with_predictions_derived_from_the_truth(brats_dir: Path, tmp_path: Path) -> None:
    import nibabel as nib

    segs = sorted((brats_dir / "cases").glob("*/*_seg.nii.gz"))[:4]
    preds = tmp_path / "preds"
    preds.mkdir()
    for i, seg in enumerate(segs):
        img = nib.load(seg)
        data = np.asarray(img.dataobj)
        if i == 1:
            data = np.roll(data, 2, axis=0)  # two voxels (2 mm) along x
        elif i == 2:
            data = np.where(data == 4, 1, data).astype(data.dtype)  # no ET predicted
        nib.save(nib.Nifti1Image(data, img.affine, img.header), str(preds / f"{seg.parent.name}.nii.gz"))
    m = _run(brats_dir / "cases", preds, tmp_path / "out")
    rows = {r["case"]: r for r in m["per_case"]}
    exact, shifted, no_et = (rows[s.parent.name] for s in segs[:3])
    assert all(exact[f"{r}_dice"] == 1.0 and exact[f"{r}_hd95_mm"] == 0.0 for r in ("WT", "TC", "ET"))
    assert 0.8 < shifted["WT_dice"] < 1.0 and shifted["WT_hd95_mm"] == pytest.approx(2.0)
    assert shifted["ET_lesion_sensitivity"] == 1.0
    assert (no_et["ET_dice"], no_et["ET_hd95_mm"], no_et["TC_dice"], no_et["WT_dice"]) == (0.0, MAX_HD95_MM, 1.0, 1.0)
    assert no_et["ET_pred_ml"] == 0 and no_et["ET_truth_ml"] > 1
    assert m["regions"]["ET"]["dice_mean"] < m["regions"]["TC"]["dice_mean"] < 1.0
