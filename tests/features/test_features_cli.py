"""``tumorscope features`` on a tiny synthetic kaggle_3m dataset (every ROI mode), on real LGG patients, and on bad
input (one clear line)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.synthetic import write_kaggle3m
from tumorscope.cli import main
from tumorscope.data.phantom import brain_phantom
from tumorscope.features.extract import ID_COLUMNS

FAST = ["--filters", "none", "--jobs", "1"]  # original image only: seconds


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kaggle3m(tmp_path_factory.mktemp("lgg"), n_patients=2, n_slices=3, size=64)


def test_mask_roi_keeps_tumor_free_slices_as_flagged_rows(kaggle: Path, tmp_path: Path, capsys):
    out = tmp_path / "f.csv"
    assert main(["features", "--data", str(kaggle), "--roi", "mask", *FAST, "-o", str(out)]) == 0
    rows = _read(out)
    assert list(rows[0])[: len(ID_COLUMNS)] == list(ID_COLUMNS)
    assert len(rows) == 6  # 2 patients x 3 slices, one row each
    for r in rows:
        assert r["roi"] == "mask"
        assert (r["roi_status"] == "ok") == (r["label"] == "tumor") == (int(r["roi_pixels"]) > 0)
        assert (r["original_firstorder_Mean"] == "") == (r["roi_status"] != "ok")
    tumor = next(r for r in rows if r["roi_status"] == "ok")
    _, lesion = brain_phantom(3, size=64, seed=0)  # patient 0 has the lesion (tests/synthetic.py)
    assert int(tumor["roi_pixels"]) == lesion[int(tumor["slice_index"]) - 1].sum()
    assert float(tumor["original_firstorder_Mean"]) > 180  # the lesion is bright on FLAIR (~0.85 * 255)
    assert tumor["patient_id"] == "TCGA_XX_0000" and tumor["image_id"].startswith("TCGA_XX_0000_20000101_")
    assert "lbp-P8-R1_uniform_bin09" in tumor and "original_shape2D_Perimeter" in tumor
    meta = json.loads((tmp_path / "f.meta.json").read_text())
    assert meta["roi_status"] == {"mask:empty": 5, "mask:ok": 1} and meta["channel"] == "flair"
    params = json.loads((tmp_path / "f.params.json").read_text())
    assert params["setting"]["binCount"] == 32 and "shape2D" in params["featureClass"]
    assert "6 rows" in capsys.readouterr().out


def test_foreground_and_whole_give_features_on_every_slice(kaggle: Path, tmp_path: Path):
    out = tmp_path / "f.csv"
    assert main(["features", "--data", str(kaggle), "--roi", "foreground,whole", *FAST, "-o", str(out)]) == 0
    rows = _read(out)
    assert len(rows) == 12 and all(r["roi_status"] == "ok" for r in rows)
    vol, _ = brain_phantom(3, size=64, seed=0)
    for r in rows:
        if r["roi"] == "whole":
            assert int(r["roi_pixels"]) == 64 * 64
        elif r["patient_id"] == "TCGA_XX_0000":  # the foreground is the phantom's head (FLAIR > 0), holes filled
            head = vol[int(r["slice_index"]) - 1, ..., 1] > 0
            assert abs(int(r["roi_pixels"]) - head.sum()) <= 0.05 * head.sum()


def test_predicted_roi_uses_a_segmentation_bundle(tmp_path: Path):
    out = tmp_path / "f.csv"
    root = write_kaggle3m(tmp_path / "lgg", n_patients=1, n_slices=2, size=64)
    patient = root / "kaggle_3m" / "TCGA_XX_0000_20000101"  # one patient folder works as --data too
    assert main(["features", "--data", str(patient), "--roi", "predicted", *FAST, "-o", str(out)]) == 0
    rows = _read(out)
    assert [r["slice_index"] for r in rows] == ["1", "2"]
    assert {r["roi"] for r in rows} == {"predicted"}
    assert all(r["roi_status"] in ("ok", "empty", "unusable") for r in rows)  # the real check: on LGG, below
    meta = json.loads((tmp_path / "f.meta.json").read_text())
    assert meta["model"] == "lgg-flair-seg"


def test_volume_rows_use_3d_shape_and_parallel_jobs_give_the_same_table(kaggle: Path, tmp_path: Path):
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    args = ["features", "--data", str(kaggle), "--roi", "foreground", "--level", "volume", "--filters", "none"]
    assert main([*args, "--jobs", "1", "-o", str(one)]) == 0
    assert main([*args, "--jobs", "2", "-o", str(two)]) == 0
    assert one.read_text() == two.read_text()
    rows = _read(one)
    assert len(rows) == 2 and all(r["slice_index"] == "" for r in rows)
    assert {r["label"] for r in rows} == {"tumor", "no_tumor"}
    assert float(rows[0]["original_shape_VoxelVolume"]) == int(rows[0]["roi_pixels"])


def test_the_params_file_written_beside_repeats_the_extraction(kaggle: Path, tmp_path: Path, capsys):
    first, again = tmp_path / "first.csv", tmp_path / "again.csv"
    assert main(["features", "--data", str(kaggle), "--roi", "foreground", *FAST, "-o", str(first)]) == 0
    assert main(["features", "--data", str(kaggle), "--roi", "foreground", "--jobs", "1",
                 "--params", str(tmp_path / "first.params.json"), "-o", str(again)]) == 0
    assert first.read_text() == again.read_text()
    assert "tumorscope: error" not in capsys.readouterr().err


def test_parquet_output_matches_the_csv(kaggle: Path, tmp_path: Path):
    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet output needs pyarrow (the parquet extra)")
    out = tmp_path / "f.parquet"
    assert main(["features", "--data", str(kaggle), "--roi", "mask", *FAST, "--no-lbp", "-o", str(out)]) == 0
    table = pq.read_table(out).to_pydict()
    assert table["roi_status"].count("ok") == 1 and len(table["patient_id"]) == 6
    means = table["original_firstorder_Mean"]
    assert sum(m is None for m in means) == 5 and not any(c.startswith("lbp") for c in table)


def test_default_filters_add_wavelet_and_log_columns(kaggle: Path, tmp_path: Path):
    out = tmp_path / "f.csv"
    assert main(["features", "--data", str(kaggle / "kaggle_3m" / "TCGA_XX_0000_20000101"), "--roi", "mask",
                 "--jobs", "1", "-o", str(out)]) == 0
    row = next(r for r in _read(out) if r["roi_status"] == "ok")
    for family in ("wavelet-LL_glszm_", "wavelet-HH_ngtdm_", "log-sigma-1-0-mm-2D_gldm_", "log-sigma-3-0-mm-2D_glrlm_"):
        assert any(k.startswith(family) and math.isfinite(float(row[k])) for k in row), family


@pytest.mark.parametrize(("args", "message"), [
    (["--roi", "tumour"], "--roi 'tumour': choose from mask, predicted, foreground, whole"),
    (["--filters", "gabor"], "--filters 'gabor'"),
    (["--log-sigma", "-1"], "sigmas must be > 0"),
    (["-o", "f.xlsx"], "the output must end in .csv or .parquet"),
    (["--params", "missing.yaml"], "no such params file"),
    (["--roi", "predicted", "--model", "brain-mri-tumor-type"], "needs a segmentation bundle"),
    (["--channel", "5"], "--channel 5 is not one"),
])
def test_bad_input_is_one_clear_line(kaggle: Path, tmp_path: Path, capsys, args: list[str], message: str):
    code = main(["features", "--data", str(kaggle), *FAST, "-o", str(tmp_path / "f.csv"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("tumorscope: error:") and message in err, err


def test_mask_roi_without_masks_and_a_bad_params_file_are_one_line(tmp_path: Path, capsys):
    from PIL import Image

    (tmp_path / "imgs" / "glioma").mkdir(parents=True)
    Image.fromarray(np.full((16, 16), 9, np.uint8)).save(tmp_path / "imgs" / "glioma" / "a.png")
    assert main(["features", "--data", str(tmp_path / "imgs"), *FAST, "-o", str(tmp_path / "f.csv")]) == 2
    assert "--roi mask needs expert masks" in capsys.readouterr().err
    bad = tmp_path / "p.yaml"
    bad.write_text("setting: {binCount: many}\nimageType: [1, 2\n")
    assert main(["features", "--data", str(tmp_path / "imgs"), "--roi", "whole", "--params", str(bad), *FAST,
                 "-o", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a valid pyradiomics params file" in err and len(err.splitlines()) == 1


@pytest.mark.shared_data
def test_real_lgg_patient_tumor_and_brain_features(lgg_dir: Path, tmp_path: Path):
    patient = sorted((lgg_dir / "kaggle_3m").iterdir())[1]
    out = tmp_path / "lgg.csv"
    assert main(["features", "--data", str(patient), "--roi", "mask,foreground,predicted", "--jobs", "1",
                 "-o", str(out)]) == 0
    rows = _read(out)
    n_slices = len([f for f in patient.iterdir() if f.suffix == ".tif" and not f.stem.endswith("_mask")])
    assert len(rows) == 3 * n_slices
    expert = sum(int(r["roi_pixels"]) for r in rows if r["roi"] == "mask")
    predicted = sum(int(r["roi_pixels"]) for r in rows if r["roi"] == "predicted")
    assert 0.5 * expert < predicted < 1.5 * expert  # the bundle's tumor is about the expert's (Dice ~0.8 on LGG)
    tumor = [r for r in rows if r["roi"] == "mask" and r["roi_status"] == "ok"]
    brain = [r for r in rows if r["roi"] == "foreground"]
    assert tumor and all(r["label"] == "tumor" for r in tumor)
    assert sum(r["roi_status"] == "ok" for r in brain) >= n_slices - 2  # blank end slices may have no brain
    for t in tumor:  # LGG is FLAIR-hyperintense: the tumor is brighter than the brain slice it sits in
        b = next(r for r in brain if r["image_id"] == t["image_id"])
        assert float(t["original_firstorder_Mean"]) > float(b["original_firstorder_Mean"])
        assert int(t["roi_pixels"]) < int(b["roi_pixels"])
        assert len([k for k in t if k.startswith("wavelet-")]) > 300


def test_volume_files_give_one_row_per_case_in_physical_units(tmp_path: Path):
    from tests.synthetic import SPACING_XYZ, write_nnunet

    root = write_nnunet(tmp_path / "nn", n_cases=2, shape=(12, 16, 16))
    out = tmp_path / "v.csv"
    assert main(["features", "--data", str(root), "--roi", "whole,mask", *FAST, "-o", str(out)]) == 0
    rows = _read(out)
    assert len(rows) == 4 and all(r["slice_index"] == "" for r in rows)  # one row per case and ROI
    whole = next(r for r in rows if r["roi"] == "whole")
    assert int(whole["roi_pixels"]) == 12 * 16 * 16
    assert float(whole["original_shape_VoxelVolume"]) == pytest.approx(12 * 16 * 16 * np.prod(SPACING_XYZ))
    assert {r["roi_status"] for r in rows if r["roi"] == "mask"} == {"ok", "empty"}  # every other case tumor-free
