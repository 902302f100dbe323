"""BraTS case folders (2018 and 2023 naming, any depth) and MSD Task01: detection, inspect and audit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.synthetic import brats_labels, write_brats_case, write_msd_brats, write_nifti_volume
from tumorscope.cli import main
from tumorscope.data.audit import audit, format_audit
from tumorscope.data.dataset import load_dataset
from tumorscope.data.inspect import format_inspection, inspect_dataset


def test_case_folders_at_any_depth_2018_naming(tmp_path: Path) -> None:
    write_brats_case(tmp_path / "HGG", "Brats18_X_AAA_1")
    write_brats_case(tmp_path / "LGG" / "deeper", "Brats18_X_BBB_1")
    (tmp_path / "README.txt").write_text("not a case")
    ds = load_dataset(tmp_path)
    assert ds.layout == "brats"
    assert ds.patients == ["Brats18_X_AAA_1", "Brats18_X_BBB_1"]
    s = ds.samples[0]
    assert list(s.extra["modalities"]) == ["flair", "t1", "t1ce", "t2"]
    assert s.image.name == "Brats18_X_AAA_1_flair.nii.gz" and s.masks[0].name == "Brats18_X_AAA_1_seg.nii.gz"
    assert s.extra["label_scheme"] == "brats2018"


def test_brats2023_naming_uses_label_3_for_enhancing_tumor(tmp_path: Path) -> None:
    labels = brats_labels()
    labels[labels == 4] = 3
    write_brats_case(tmp_path, "BraTS-GLI-00000-000", labels, naming="2023", spacing=(1.0, 1.0, 2.0))
    ds = load_dataset(tmp_path)
    assert ds.layout == "brats"
    assert set(ds.samples[0].extra["modalities"]) == {"flair", "t1", "t1ce", "t2"}
    info = inspect_dataset(tmp_path)
    assert info["label_schemes"] == {"brats2023": 1}
    assert info["label_values"] == {"0": 1, "1": 1, "2": 1, "3": 1}
    # 2 mm slices: one voxel is 2 uL; ET is a 4x4x6 block
    assert info["per_case"][0]["volumes_ml"]["ET"] == pytest.approx(4 * 4 * 6 * 0.002)
    assert audit(tmp_path)["summary"]["bad_labels"] == 0  # 3 is a 2023 label


def test_inspect_counts_modalities_labels_and_region_volumes(tmp_path: Path) -> None:
    write_brats_case(tmp_path, "case_a")
    write_brats_case(tmp_path, "case_b", brats_labels(et=False))  # an empty-ET case
    write_brats_case(tmp_path, "case_c", skip=("t2",))
    info = inspect_dataset(tmp_path)
    assert info["n_cases"] == 3
    assert info["modalities"] == {"flair": 3, "t1": 3, "t1ce": 3, "t2": 2}
    assert info["n_cases_missing_modalities"] == 1
    assert info["label_values"] == {"0": 3, "1": 3, "2": 3, "4": 2}
    wt, tc, et = 10 * 12 * 14 / 1000, 6 * 8 * 10 / 1000, 4 * 4 * 6 / 1000
    rows = {r["case"]: r for r in info["per_case"]}
    assert rows["case_a"]["volumes_ml"] == pytest.approx({"WT": wt, "TC": tc, "ET": et})
    assert rows["case_b"]["volumes_ml"]["ET"] == 0 and rows["case_b"]["volumes_ml"]["TC"] == pytest.approx(tc)
    assert info["region_volumes_ml"]["ET"]["n_empty"] == 1
    text = format_inspection(info)
    assert "t2 2/3" in text and "ET volume (mL)" in text and "empty in 1 case(s)" in text


def test_audit_names_each_problem_file(tmp_path: Path) -> None:
    write_brats_case(tmp_path, "clean")
    write_brats_case(tmp_path, "no_t1ce", skip=("t1ce",))
    bad = brats_labels()
    bad[0, 0, 0] = 3  # not a BraTS 2018 label
    seg = write_brats_case(tmp_path, "bad_label", bad)
    write_brats_case(tmp_path, "shape")
    write_nifti_volume(tmp_path / "shape" / "shape_t2.nii.gz", np.zeros((16, 20, 23), np.int16))
    write_brats_case(tmp_path, "affine")
    write_nifti_volume(tmp_path / "affine" / "affine_flair.nii.gz", np.zeros((16, 20, 24), np.int16), (1, 1, 1.5))
    report = audit(tmp_path)
    assert report["summary"] == {"missing_modalities": 1, "missing_segmentations": 0, "geometry_mismatches": 2,
                                 "bad_labels": 1, "unreadable": 0}
    assert report["missing_modalities"][0]["missing"] == ["t1ce"]
    assert report["bad_labels"][0] == {"case": "bad_label", "file": str(seg), "labels": [3],
                                       "allowed": [0, 1, 2, 4], "scheme": "brats2018"}
    problems = {Path(m["file"]).name: m["problem"] for m in report["geometry_mismatches"]}
    assert "24x20x16" in problems["shape_t2.nii.gz"] and "23x20x16" in problems["shape_t2.nii.gz"]
    assert problems["affine_flair.nii.gz"].startswith("affine differs (spacing 1x1x1.5 mm")  # the odd one out
    text = format_audit(report)
    assert "no_t1ce_flair.nii.gz: missing t1ce" in text and "labels [3] not in [0, 1, 2, 4]" in text


def test_msd_task01_four_d_layout(tmp_path: Path) -> None:
    msd = np.array([0, 2, 1, 0, 3], np.uint8)[brats_labels()]  # MSD: 1 edema, 2 non-enhancing, 3 enhancing
    root = write_msd_brats(tmp_path / "Task01_BrainTumour", {"BRATS_001": msd, "BRATS_002": np.zeros_like(msd)})
    ds = load_dataset(root)
    assert ds.layout == "msd_brats"
    mods = ds.samples[0].extra["modalities"]
    assert {m: i for m, (_, i) in mods.items()} == {"flair": 0, "t1": 1, "t1ce": 2, "t2": 3}
    info = inspect_dataset(root)
    assert info["label_schemes"] == {"msd": 2}
    rows = {r["case"]: r for r in info["per_case"]}
    assert rows["BRATS_001"]["volumes_ml"] == pytest.approx({"WT": 1.68, "TC": 0.48, "ET": 0.096})
    assert rows["BRATS_002"]["volumes_ml"] == {"WT": 0, "TC": 0, "ET": 0}
    assert audit(root)["summary"]["geometry_mismatches"] == 0
    image = np.stack([msd.astype(np.float32)] * 4, axis=-1)
    write_nifti_volume(root / "imagesTs" / "BRATS_900.nii.gz", image)  # test case: no label, not a finding
    report = audit(root)
    assert report["n_cases"] == 3 and not any(report["summary"].values())
    assert inspect_dataset(root)["splits"] == {"test": 1, "train": 2}


def test_msd_image_without_four_volumes_is_a_finding(tmp_path: Path) -> None:
    root = write_msd_brats(tmp_path / "msd", {"BRATS_001": brats_labels()}, n_channels=3)
    report = audit(root)
    assert report["geometry_mismatches"][0]["problem"] == "holds 3 volume(s), expected 4"
    assert report["geometry_mismatches"][0]["file"].endswith("imagesTr/BRATS_001.nii.gz")


def test_cli_inspect_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_brats_case(tmp_path, "case_a")
    assert main(["datasets", "inspect", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["layout"] == "brats" and info["n_cases"] == 1


def test_real_brats2018_cases(brats_dir: Path) -> None:
    info = inspect_dataset(brats_dir / "cases")
    assert info["n_cases"] >= 4 and info["n_cases_missing_modalities"] == 0
    assert set(info["label_values"]) == {"0", "1", "2", "4"}
    assert info["image_sizes"] == {"240x240x155": info["n_cases"]}
    assert 10 < info["region_volumes_ml"]["WT"]["mean"] < 500
    assert not any(audit(brats_dir / "cases")["summary"].values())
