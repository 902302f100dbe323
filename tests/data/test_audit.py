"""Leakage audit: fingerprints, grouping and every finding on synthetic folders, then the real datasets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image as PILImage

from tumorscope.cli import main
from tumorscope.data.audit import audit, format_audit
from tumorscope.data.hashing import dihedral_phashes, gray_uint8, near_pairs, pixel_digest
from tumorscope.data.locate import shared_dataset
from tumorscope.errors import TumorscopeError


def _texture(seed: int, size: int = 48) -> np.ndarray:
    """A smooth random picture (blurred noise), so perceptual hashes have structure to work with."""
    noise = np.random.default_rng(seed).random((size // 4, size // 4))
    big = np.kron(noise, np.ones((4, 4)))
    return (big * 255).astype(np.uint8)


def _png(path: Path, array: np.ndarray, **save: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(array).save(path, **save)
    return path


# --- fingerprints ----------------------------------------------------------------------------------


def test_pixel_digest_sees_pixels_not_encoding():
    gray = _texture(1)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    assert pixel_digest(gray[..., None]) == pixel_digest(rgb)  # gray stored as R=G=B is the same picture
    tinted = rgb.copy()
    tinted[0, 0, 2] ^= 1
    assert pixel_digest(tinted) != pixel_digest(rgb)
    assert pixel_digest(gray[..., None]) != pixel_digest(gray[..., None].astype(np.uint16))
    assert pixel_digest(gray[..., None]) != pixel_digest(gray.T[..., None])


def test_gray_uint8_handles_colour_16bit_and_volumes():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 255
    assert gray_uint8(rgb)[0, 0] == 76  # ITU-R 601 luma of pure red, as Pillow's convert("L")
    wide = np.arange(16, dtype=np.uint16).reshape(4, 4, 1) * 1000
    g = gray_uint8(wide)
    assert g.dtype == np.uint8 and g.min() == 0 and g.max() == 255
    volume = np.stack([np.full((4, 4, 1), z, np.int16) for z in range(5)])
    volume[2, 0, 0, 0] = 9
    assert gray_uint8(volume)[0, 0] == 255 and gray_uint8(volume)[1, 1] == 0  # the middle slice, stretched


def test_dihedral_hashes_match_flips_and_rotations_but_not_other_pictures():
    img = _texture(2)
    h = dihedral_phashes(img)
    assert h.shape == (8,) and h.dtype == np.uint64
    for variant in (img[:, ::-1], img[::-1], np.rot90(img), np.rot90(img, 2), np.rot90(img, 3), img.T):
        hv = dihedral_phashes(np.ascontiguousarray(variant))
        assert int(np.bitwise_count(hv[0] ^ h).min()) <= 2
    other = dihedral_phashes(_texture(3))
    assert int(np.bitwise_count(other[0] ^ h).min()) > 10


def test_near_pairs_equals_brute_force():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, size=(40, 8), dtype=np.uint64)
    base[7] = base[3] ^ np.uint64(0b101)  # 2 bits from image 3 under every symmetry
    base[20, 5] = base[11, 0] ^ np.uint64(1)  # image 11 is 1 bit from a rotation of image 20
    brute = sorted(
        (i, j)
        for i in range(40)
        for j in range(i + 1, 40)
        if min(bin(int(base[i, 0] ^ base[j, t])).count("1") for t in range(8)) <= 4
        or min(bin(int(base[j, 0] ^ base[i, t])).count("1") for t in range(8)) <= 4
    )
    assert near_pairs(base, 4, block=7) == brute
    assert (3, 7) in brute and (11, 20) in brute


# --- findings on a synthetic class-folder dataset ----------------------------------------------------


@pytest.fixture
def leaky(tmp_path: Path) -> Path:
    """Training/Testing class folders with one of each problem, plus distinct filler images."""
    root = tmp_path / "leaky"
    a = _texture(10)
    _png(root / "Training/cat/a.png", a)
    _png(root / "Testing/cat/a_reencoded.png", a, compress_level=0)  # same pixels, other bytes
    shutil.copy(root / "Training/cat/a.png", root / "Training/cat/a_copy.png")  # same bytes
    b = _texture(11)
    _png(root / "Training/cat/b.png", b)
    _png(root / "Testing/dog/b_flipped.png", np.ascontiguousarray(b[:, ::-1]))  # flip, other label
    c = _texture(12)
    _png(root / "Training/dog/c.png", c)
    _png(root / "Training/dog/c_rot90.png", np.ascontiguousarray(np.rot90(c)))
    d = _texture(13)
    _png(root / "Training/cat/d_gray.png", d)
    _png(root / "Training/dog/d_rgb.png", np.repeat(d[..., None], 3, axis=2))  # same picture, other label
    for i in range(8):
        _png(root / f"Training/{'cat' if i % 2 else 'dog'}/filler{i}.png", _texture(100 + i))
        _png(root / f"Testing/{'cat' if i % 2 else 'dog'}/filler{i}.png", _texture(200 + i))
    (root / "Training/cat/empty.png").write_bytes(b"")
    (root / "Training/dog/broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    _png(root / "Testing/dog/blank.png", np.full((16, 16), 7, np.uint8))
    return root


def _rel(groups: list[list[str]], root: Path) -> list[list[str]]:
    return [[str(Path(f).relative_to(root)) for f in g] for g in groups]


def test_audit_finds_every_kind_of_problem(leaky: Path):
    report = audit(leaky)
    assert report["layout"] == "class_folders" and report["n_images"] == 28
    assert report["splits"] == {"Testing": 11, "Training": 17}
    assert _rel(report["exact_duplicate_groups"], leaky) == [
        ["Testing/cat/a_reencoded.png", "Training/cat/a.png", "Training/cat/a_copy.png"],
        ["Training/cat/d_gray.png", "Training/dog/d_rgb.png"],
    ]
    assert _rel(report["byte_identical_groups"], leaky) == [["Training/cat/a.png", "Training/cat/a_copy.png"]]
    assert _rel(report["near_duplicate_groups"], leaky) == [
        ["Testing/dog/b_flipped.png", "Training/cat/b.png"],
        ["Training/dog/c.png", "Training/dog/c_rot90.png"],
    ]
    assert _rel(report["cross_split_duplicate_groups"], leaky) == [
        ["Testing/cat/a_reencoded.png", "Training/cat/a.png", "Training/cat/a_copy.png"],
        ["Testing/dog/b_flipped.png", "Training/cat/b.png"],
    ]
    assert report["summary"]["cross_split_exact_groups"] == 1
    assert _rel(report["label_conflicts"], leaky) == [
        ["Testing/dog/b_flipped.png", "Training/cat/b.png"],
        ["Training/cat/d_gray.png", "Training/dog/d_rgb.png"],
    ]
    problems = {Path(u["file"]).name: u["problem"] for u in report["unreadable"]}
    assert set(problems) == {"empty.png", "broken.png", "blank.png"}
    assert problems["empty.png"].startswith("empty file")
    assert problems["broken.png"].startswith("cannot decode")
    assert problems["blank.png"].startswith("constant image")
    assert report["patient_leaks"] == [] and report["size_mismatches"] == []
    assert report["summary"]["exact_duplicate_files"] == 5 and report["summary"]["near_duplicate_groups"] == 2


def test_threshold_zero_still_finds_exact_flips_but_no_looser_matches(leaky: Path):
    report = audit(leaky, near_threshold=0)
    flat = {Path(f).name for g in report["near_duplicate_groups"] for f in g}
    assert {"b.png", "b_flipped.png"} <= flat  # an exact flip hashes identically under its symmetry
    with pytest.raises(TumorscopeError, match="near-threshold"):
        audit(leaky, near_threshold=-1)


def test_audit_is_deterministic_and_json_ready(leaky: Path):
    first = json.dumps(audit(leaky), sort_keys=True)
    assert first == json.dumps(audit(leaky), sort_keys=True)


def test_human_summary_gives_counts_examples_and_advice(leaky: Path):
    text = format_audit(audit(leaky))
    assert text.startswith(f"audit of {leaky}: 28 images, layout class_folders")
    assert "exact duplicates (identical pixels): 2 groups, 5 files (1 byte-identical groups)" in text
    assert "Testing/dog/b_flipped.png = Training/cat/b.png" in text
    assert "duplicate groups crossing splits: 2 (1 of them exact copies)" in text
    assert "-> held-out scores are optimistic" in text
    assert "Training/cat/empty.png: empty file (0 bytes)" in text
    assert "patients in more than one split: 0" in text


def test_against_compares_two_folders(tmp_path: Path):
    train, test = tmp_path / "train", tmp_path / "test"
    pic = _texture(5)
    _png(train / "tumor/x.png", pic)
    _png(test / "tumor/y.png", np.ascontiguousarray(np.rot90(pic, 2)))
    for i in range(3):
        _png(train / "normal" / f"n{i}.png", _texture(50 + i))
        _png(test / "normal" / f"n{i}.png", _texture(60 + i))
    report = audit(train, against=test)
    assert report["against"] == str(test) and report["n_images"] == 8
    assert report["splits"] == {str(test): 4, str(train): 4}
    assert report["cross_split_duplicate_groups"] == [[str(test / "tumor/y.png"), str(train / "tumor/x.png")]]
    assert report["exact_duplicate_groups"] == [] and report["label_conflicts"] == []
    assert "test/tumor/y.png = train/tumor/x.png" in format_audit(report)


def _nifti(path: Path, shape: tuple[int, ...], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).integers(0, 500, size=shape).astype(np.int16)
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)


def test_patient_leaks_and_mask_size_mismatch_on_nnunet(tmp_path: Path):
    (tmp_path / "dataset.json").write_text(json.dumps({"channel_names": {"0": "CT"}, "file_ending": ".nii.gz"}))
    _nifti(tmp_path / "imagesTr/case_01_0000.nii.gz", (24, 24, 6), 1)
    _nifti(tmp_path / "labelsTr/case_01.nii.gz", (24, 24, 6), 2)
    _nifti(tmp_path / "imagesTr/case_02_0000.nii.gz", (24, 24, 6), 3)
    _nifti(tmp_path / "labelsTr/case_02.nii.gz", (24, 20, 6), 4)  # wrong size
    _nifti(tmp_path / "imagesTs/case_01_0000.nii.gz", (24, 24, 6), 5)  # patient in train and test
    _nifti(tmp_path / "imagesTr/case_03_0000.nii.gz", (24, 24, 6), 6)
    (tmp_path / "labelsTr/case_03.nii.gz").write_bytes(b"")
    report = audit(tmp_path)
    assert report["layout"] == "nnunet" and report["n_images"] == 4
    assert report["unreadable"] == [{"file": str(tmp_path / "labelsTr/case_03.nii.gz"), "problem": "empty file (0 bytes)"}]
    assert report["patient_leaks"] == [
        {
            "patient_id": "case_01",
            "splits": ["test", "train"],
            "files": sorted([str(tmp_path / "imagesTr/case_01_0000.nii.gz"), str(tmp_path / "imagesTs/case_01_0000.nii.gz")]),
        }
    ]
    assert report["size_mismatches"] == [
        [str(tmp_path / "imagesTr/case_02_0000.nii.gz"), str(tmp_path / "labelsTr/case_02.nii.gz")]
    ]
    assert "case_01: in test, train (2 files)" in format_audit(report)


def test_cli_audit_json_and_text(leaky: Path, capsys):
    assert main(["datasets", "audit", str(leaky), "--json", "--near-threshold", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["near_threshold"] == 2 and data["summary"]["unreadable"] == 3
    assert main(["datasets", "audit", str(leaky)]) == 0
    assert "near duplicates (phash incl. flips/rotations, <= 4 bits): 2" in capsys.readouterr().out


# --- the real shared datasets (one audit per dataset per module) -------------------------------------


def _shared_report(name: str, sub: str = "") -> dict:
    root = shared_dataset(name)
    if root is None:
        pytest.skip(f"real dataset {name!r} not found: needs ../shared/data/{name} or $TUMORSCOPE_DATA/{name}")
    return audit(root / sub if sub else root)


@pytest.fixture(scope="module")
def brain4_report() -> dict:
    return _shared_report("brain_tumor_mri_4class")


@pytest.fixture(scope="module")
def colon_report() -> dict:
    return _shared_report("histopathology")


@pytest.mark.shared_data
def test_brain4_exact_duplicates_match_source_md(brain4_report: dict):
    s = brain4_report["summary"]
    assert brain4_report["n_images"] == 1500
    assert s["exact_duplicate_groups"] == 23 and s["cross_split_exact_groups"] >= 13
    pair = {"Training/meningioma/Tr-me_0178.jpg", "Testing/meningioma/Te-me_0012.jpg"}
    assert any(pair <= {f.split("brain_tumor_mri_4class/")[1] for f in g} for g in brain4_report["exact_duplicate_groups"])
    assert s["cross_split_duplicate_groups"] >= s["cross_split_exact_groups"]


@pytest.mark.shared_data
def test_brain4_mirrored_duplicates_are_near_groups(brain4_report: dict):
    # Te-glTr_0000 is a left-right mirror of Tr-gl_0189 (mean |difference| < 1 grey level after flipping).
    pair = {"Testing/glioma/Te-glTr_0000.jpg", "Training/glioma/Tr-gl_0189.jpg"}
    groups = [{f.split("brain_tumor_mri_4class/")[1] for f in g} for g in brain4_report["near_duplicate_groups"]]
    assert any(pair <= g for g in groups)


@pytest.mark.shared_data
def test_colon_flip_and_rotation_twins_are_found_where_exact_hashing_misses(colon_report: dict):
    def names(groups: list[list[str]]) -> list[set[str]]:
        return [{Path(f).name for f in g} for g in groups]

    flipped = {"colonn457.jpeg", "colonn987.jpeg"}  # pixel-exact vertical flip of each other
    rotated = {"colonca504.jpeg", "colonca621.jpeg"}  # 180-degree rotation (re-encoded)
    for twins in (flipped, rotated):
        assert any(twins <= g for g in names(colon_report["near_duplicate_groups"]))
        assert not any(twins <= g for g in names(colon_report["exact_duplicate_groups"]))
    assert colon_report["summary"]["exact_duplicate_groups"] >= 1 and colon_report["unreadable"] == []


@pytest.mark.shared_data
def test_busi_mask_size_mismatch(busi_dir: Path):
    report = audit(busi_dir)
    pairs = [tuple(Path(f).name for f in p) for p in report["size_mismatches"]]
    assert ("benign (4).png", "benign (4)_mask_1.png") in pairs
    assert report["n_images"] == 128 and report["unreadable"] == []


@pytest.mark.shared_data
def test_dicom_series_and_one_lgg_patient_audit_cleanly(dicom_dir: Path, lgg_dir: Path):
    dicom = audit(dicom_dir)
    assert dicom["layout"] == "tcia_dicom" and dicom["n_images"] == 30
    assert dicom["exact_duplicate_groups"] == [] and dicom["unreadable"] == []
    lgg = audit(lgg_dir / "kaggle_3m" / "TCGA_CS_4942_19970222")
    assert lgg["layout"] == "lgg_kaggle3m" and lgg["n_images"] == 20
    assert lgg["size_mismatches"] == [] and lgg["patient_leaks"] == []
