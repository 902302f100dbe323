"""``datasets inspect``: the summary dict, its table, and the CLI on the real datasets and on bad folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from tumorscope.data.inspect import format_inspection, inspect_dataset

REPO = Path(__file__).resolve().parents[2]


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(array).save(path)


def _mask(rows: slice) -> np.ndarray:
    """An 8x8 mask (0/255) with the given rows set."""
    m = np.zeros((8, 8), np.uint8)
    m[rows] = 255
    return m


@pytest.fixture
def masked_tree(tmp_path: Path) -> Path:
    """BUSI-like: benign (1) has two masks (2 rows + 2 rows), benign (2) one row, normal (1) an empty mask,
    and bad (1) a mask of the wrong size."""
    base = tmp_path / "Dataset_BUSI_with_GT"
    image = np.zeros((8, 8, 3), np.uint8)
    for name in ("benign/benign (1)", "benign/benign (2)", "normal/normal (1)", "odd/bad (1)"):
        _save(base / f"{name}.png", image)
    _save(base / "benign" / "benign (1)_mask.png", _mask(slice(0, 2)))
    _save(base / "benign" / "benign (1)_mask_1.png", _mask(slice(4, 6)))
    _save(base / "benign" / "benign (2)_mask.png", _mask(slice(0, 1)))
    _save(base / "normal" / "normal (1)_mask.png", _mask(slice(0, 0)))
    _save(base / "odd" / "bad (1)_mask.png", np.zeros((4, 6), np.uint8))
    (tmp_path / "SOURCE.md").write_text("notes")
    return tmp_path


def test_inspect_counts_sizes_and_mask_coverage(masked_tree: Path):
    info = inspect_dataset(masked_tree)
    assert info["layout"] == "busi"
    assert (info["n_images"], info["n_masks"], info["n_patients"], info["per_patient"]) == (4, 5, None, None)
    assert info["classes"] == {"benign": 2, "normal": 1, "odd": 1}
    assert (
        info["image_sizes"] == {"8x8": 4} and info["dtypes"] == {"uint8": 4} and info["modes"] == {"RGB": 4}
    )
    # benign (1): rows 0-1 OR rows 4-5 = 4/8; benign (2): 1/8; the empty mask is not a tumor image
    assert info["mask_coverage"] == pytest.approx((4 / 8 + 1 / 8) / 2)
    assert info["n_tumor_masks"] == 2
    (error,) = info["mask_errors"]
    assert "bad (1)_mask.png" in error and "does not match" in error
    assert json.loads(json.dumps(info)) == info


def test_table_shows_the_key_facts(masked_tree: Path):
    table = format_inspection(inspect_dataset(masked_tree))
    lines = dict(
        line.split(None, 1) for line in table.splitlines() if not line.startswith(("image sizes", "mask"))
    )
    assert lines["layout"].strip() == "busi"
    assert lines["images"].strip() == "4"
    assert "benign: 2 (50.0%)" in lines["classes"]
    assert "31.25% of pixels" in table and "bad (1)_mask.png" in table


def test_unlabelled_masks_are_classed_by_emptiness(tmp_path: Path):
    import nibabel as nib

    (tmp_path / "dataset.json").write_text(
        json.dumps({"channel_names": {"0": "CT"}, "file_ending": ".nii.gz"})
    )
    for case, filled in (("a", 8), ("b", 0), ("c", 2)):
        for folder, name in (("imagesTr", f"{case}_0000"), ("labelsTr", case)):
            vol = np.zeros((4, 6, 8), np.uint8)  # x=4, y=6, z=8 in NIfTI order
            if folder == "labelsTr":
                vol[:, :, :filled] = 1
            (tmp_path / folder).mkdir(exist_ok=True)
            nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / folder / f"{name}.nii.gz")
    info = inspect_dataset(tmp_path)
    assert info["layout"] == "nnunet"
    assert info["classes"] == {"no_tumor": 1, "tumor": 2} and info["unlabelled"] == 0
    assert info["n_patients"] == 3 and info["splits"] == {"train": 3}
    assert info["image_sizes"] == {"4x6x8": 3}
    assert info["mask_coverage"] == pytest.approx((8 / 8 + 2 / 8) / 2)


# --- the CLI ---------------------------------------------------------------------------------------


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TUMORSCOPE_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "tumorscope", "datasets", "inspect", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


EXPECTED = {
    "lgg_dir": {
        "layout": "lgg_kaggle3m",
        "n_images": 1522,
        "n_patients": 83,
        "n_masks": 1522,
        "classes": {"no_tumor": 506, "tumor": 1016},
        "splits": {},
        "image_sizes": {"256x256": 1522},
        "n_tumor_masks": 1016,
        "mask_errors": [],
    },
    "brain4_dir": {
        "layout": "class_folders",
        "n_images": 1500,
        "n_patients": None,
        "n_masks": 0,
        "classes": {"glioma": 375, "meningioma": 375, "notumor": 375, "pituitary": 375},
        "splits": {"Testing": 300, "Training": 1200},
        "image_sizes": {"224x224": 1500},
        "modes": {"RGB": 654 + 147, "L": 546 + 153},
        "mask_coverage": None,
    },
    "busi_dir": {
        "layout": "busi",
        "n_images": 128,
        "n_patients": None,
        "n_masks": 130,
        "classes": {"benign": 42, "malignant": 43, "normal": 43},
        "splits": {},
        "modes": {"RGB": 128},
    },
    "colon_dir": {
        "layout": "class_folders",
        "n_images": 600,
        "n_patients": None,
        "n_masks": 0,
        "classes": {"colon_aca": 300, "colon_n": 300},
        "splits": {},
        "image_sizes": {"224x224": 600},
    },
    "dicom_dir": {
        "layout": "tcia_dicom",
        "n_images": 30,
        "n_patients": 1,
        "n_masks": 0,
        "classes": {"A": 10},
        "unlabelled": 20,
        "n_box_images": 10,
        "image_sizes": {"512x512": 30},
        "per_patient": {"min": 30, "median": 30, "max": 30},
    },
}


@pytest.mark.shared_data
@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_cli_inspect_matches_source_md(fixture: str, request: pytest.FixtureRequest):
    root = request.getfixturevalue(fixture)
    done = _cli(root, "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert {k: info[k] for k in EXPECTED[fixture]} == EXPECTED[fixture]
    if fixture == "lgg_dir":
        assert 0 < info["mask_coverage"] < 0.1
    if fixture == "busi_dir":  # BUSI's known defect: benign (4)_mask_1.png is 555x465 for a 416x416 image
        assert len(info["mask_errors"]) == 1 and "benign (4)_mask_1.png" in info["mask_errors"][0]


@pytest.mark.shared_data
def test_cli_table(busi_dir: Path):
    done = _cli(busi_dir)
    assert done.returncode == 0, done.stderr
    assert "busi" in done.stdout and "benign: 42" in done.stdout and "130 file(s)" in done.stdout


@pytest.mark.parametrize(
    ("make", "problem"),
    [("empty", "folder is empty"), ("missing", "no such folder"), ("unknown", "no known dataset layout")],
)
def test_cli_refuses_bad_folders_in_one_line(tmp_path: Path, make: str, problem: str):
    target = tmp_path / "data"
    if make != "missing":
        target.mkdir()
    if make == "unknown":
        (target / "notes.txt").write_text("nothing to see")
        (target / "sub").mkdir()
    done = _cli(target, "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and problem in lines[0] and str(target) in lines[0]
