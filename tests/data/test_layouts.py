"""Dataset layouts: detection order, what each layout yields, and the real shared datasets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from tumorscope.data import detect_layout, load_dataset
from tumorscope.data.layouts import layouts
from tumorscope.errors import TumorscopeError


def _png(path: Path, value: int = 0, size: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(np.full((size, size), value, np.uint8)).save(path)
    return path


def _clutter(folder: Path) -> None:
    """Files every layout must ignore."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("SOURCE.md", "manifest.csv", "README", "data.csv", "LICENSE", ".DS_Store"):
        (folder / name).write_text("x")


def test_class_folders_is_tried_last():
    assert [m.NAME for m in layouts()][-1] == "class_folders"


# --- busi -------------------------------------------------------------------------------------------


@pytest.fixture
def busi_tree(tmp_path: Path) -> Path:
    base = tmp_path / "Dataset_BUSI_with_GT"
    _png(base / "benign" / "benign (1).png")
    _png(base / "benign" / "benign (1)_mask.png", 255)
    _png(base / "benign" / "benign (1)_mask_1.png", 255)
    _png(base / "benign" / "benign (2).png")
    _png(base / "benign" / "benign (2)_mask.png")
    _png(base / "normal" / "normal (1).png")
    _png(base / "normal" / "normal (1)_mask.png")
    _png(base / "normal" / ".ipynb_checkpoints" / "normal (1)-checkpoint.png")
    _clutter(tmp_path)
    _clutter(base / "benign")
    return tmp_path


@pytest.mark.parametrize("sub", ["", "Dataset_BUSI_with_GT"])
def test_busi_pairs_every_mask_with_its_image(busi_tree: Path, sub: str):
    ds = load_dataset(busi_tree / sub)
    assert ds.layout == "busi"
    by_name = {s.image.name: s for s in ds.samples}
    assert sorted(by_name) == ["benign (1).png", "benign (2).png", "normal (1).png"]
    assert [m.name for m in by_name["benign (1).png"].masks] == [
        "benign (1)_mask.png",
        "benign (1)_mask_1.png",
    ]
    assert ds.classes == {"benign": 2, "normal": 1}
    assert not ds.has_patients


# --- class_folders ----------------------------------------------------------------------------------


def test_class_folders_descends_single_child_wrappers(tmp_path: Path):
    base = tmp_path / "lung_colon_image_set" / "colon_image_sets"
    for cls, n in (("colon_aca", 3), ("colon_n", 2)):
        for i in range(n):
            _png(base / cls / f"{cls}{i}.jpeg".replace(".jpeg", ".png"))
    _png(base / "colon_n" / ".ipynb_checkpoints" / "x-checkpoint.png")
    _clutter(tmp_path)
    ds = load_dataset(tmp_path)
    assert ds.layout == "class_folders"
    assert ds.classes == {"colon_aca": 3, "colon_n": 2}
    assert all(s.split is None and s.patient_id is None for s in ds.samples)


def test_class_folders_with_split_folders(tmp_path: Path):
    for split, n in (("Training", 3), ("Testing", 1)):
        for cls in ("glioma", "notumor"):
            for i in range(n):
                _png(tmp_path / split / cls / f"{split[:2]}-{cls}_{i}.png")
    _png(tmp_path / "Testing" / "glioma" / ".ipynb_checkpoints" / "Te-gl_0-checkpoint.png")
    _clutter(tmp_path)
    ds = load_dataset(tmp_path)
    assert ds.layout == "class_folders"
    assert Counter((s.split, s.label) for s in ds.samples) == {
        ("Training", "glioma"): 3,
        ("Training", "notumor"): 3,
        ("Testing", "glioma"): 1,
        ("Testing", "notumor"): 1,
    }


@pytest.mark.parametrize("make", ["text_only", "loose_images"])
def test_folder_without_a_layout_is_refused(tmp_path: Path, make: str):
    _clutter(tmp_path / "docs")
    if make == "loose_images":
        _png(tmp_path / "a.png")
    with pytest.raises(TumorscopeError, match="no known dataset layout") as err:
        detect_layout(tmp_path)
    assert str(tmp_path) in str(err.value)


# --- tcia_dicom -------------------------------------------------------------------------------------


def _dicom(path: Path, patient: str, series: str, sop: str, z: float) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID = (
        CTImageStorage,
        sop,
        series,
        "1.2.3",
    )
    ds.PatientID, ds.Modality = patient, "CT"
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0.0, 0.0, z], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.InstanceNumber = 1
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = np.zeros((4, 4), np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _voc(path: Path, name: str, box: tuple[int, int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tags = "".join(f"<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box))
    path.write_text(f"<annotation><object><name>{name}</name><bndbox>{tags}</bndbox></object></annotation>")


def test_tcia_dicom_orders_slices_by_position_and_matches_boxes_by_uid(tmp_path: Path):
    study = (
        tmp_path
        / "Collection"
        / "manifest-1"
        / "Collection"
        / "P-001"
        / "01-01-2000-NA-CT"
        / "2.0-Thorax  B40f"
    )
    # file names run against z so that position order != name order
    for i, z in enumerate((30.0, 10.0, 20.0), start=1):
        _dicom(study / f"1-{i:02d}.dcm", "P-001", "1.2.3.4", f"1.2.3.4.{i}", z)
    _dicom(tmp_path / "other" / "s.dcm", "P-002", "1.2.3.5", "1.2.3.5.1", 0.0)
    _voc(tmp_path / "Annotation" / "001" / "1.2.3.4.3.xml", "A", (1, 2, 3, 4))  # the z=20 slice
    _voc(tmp_path / "Annotation" / "001" / "1.2.3.9.9.xml", "B", (0, 0, 1, 1))  # a slice not present
    (tmp_path / "Collection" / "manifest-1" / "metadata.csv").write_text("x")
    _clutter(tmp_path)
    ds = load_dataset(tmp_path)
    assert ds.layout == "tcia_dicom"
    by_name = {s.image.name: s for s in ds.samples if s.patient_id == "P-001"}
    assert {n: s.slice_index for n, s in by_name.items()} == {"1-02.dcm": 1, "1-03.dcm": 2, "1-01.dcm": 3}
    annotated = by_name["1-03.dcm"]
    assert (annotated.label, annotated.boxes) == ("A", ((1, 2, 3, 4),))
    assert annotated.extra["sop_uid"] == "1.2.3.4.3" and annotated.extra["series_uid"] == "1.2.3.4"
    assert by_name["1-01.dcm"].label is None and by_name["1-01.dcm"].boxes == ()
    assert ds.patients == ["P-001", "P-002"]
    assert ds.classes == {"A": 1}


def test_tcia_dicom_names_an_unreadable_file(tmp_path: Path):
    (tmp_path / "bad.dcm").write_bytes(b"not dicom at all")
    with pytest.raises(TumorscopeError, match="DICOM") as err:
        load_dataset(tmp_path)
    assert "bad.dcm" in str(err.value)


# --- nnunet -----------------------------------------------------------------------------------------


def _nifti(path: Path, value: int = 0) -> None:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.full((8, 8, 8), value, np.uint8), np.eye(4)), path)


def test_kaggle3m_reads_tcga_folders_and_pseudonymous_cases(tmp_path: Path):
    import tifffile

    for name in ("TCGA_CS_4942_19970222", "case-0123456789ab", "case-0123456789AB", "case-0123", "notes"):
        (tmp_path / "kaggle_3m" / name).mkdir(parents=True)
        for k in (1, 2):
            tifffile.imwrite(tmp_path / "kaggle_3m" / name / f"{name}_{k}.tif", np.zeros((8, 8), np.uint8))
            tifffile.imwrite(tmp_path / "kaggle_3m" / name / f"{name}_{k}_mask.tif",
                             np.full((8, 8), 255 * (k == 2), np.uint8))
    ds = load_dataset(tmp_path)
    assert ds.layout == "lgg_kaggle3m"
    assert ds.patients == ["TCGA_CS_4942", "case-0123456789ab"]  # a pseudonym is its own patient id, whole
    assert Counter(s.label for s in ds.samples) == {"no_tumor": 2, "tumor": 2}


def test_nnunet_v2_groups_channels_per_case(tmp_path: Path):
    desc = {
        "channel_names": {"0": "T1", "1": "T2"},
        "labels": {"background": 0, "tumor": 1},
        "file_ending": ".nii.gz",
    }
    (tmp_path / "dataset.json").write_text(json.dumps(desc))
    for case in ("case_001", "case_002"):
        for ch in (0, 1):
            _nifti(tmp_path / "imagesTr" / f"{case}_{ch:04d}.nii.gz")
        _nifti(tmp_path / "labelsTr" / f"{case}.nii.gz", 1)
    _nifti(tmp_path / "imagesTs" / "case_009_0000.nii.gz")
    _nifti(tmp_path / "imagesTs" / "case_009_0001.nii.gz")
    ds = load_dataset(tmp_path)
    assert ds.layout == "nnunet"
    train = {str(s.patient_id): s for s in ds.samples if s.split == "train"}
    assert sorted(train) == ["case_001", "case_002"]
    first = train["case_001"]
    assert first.image.name == "case_001_0000.nii.gz"
    assert [p.name for p in first.extra["channels"]] == ["case_001_0000.nii.gz", "case_001_0001.nii.gz"]
    assert [p.name for p in first.masks] == ["case_001.nii.gz"]
    (test,) = [s for s in ds.samples if s.split == "test"]
    assert (test.patient_id, test.masks, len(test.extra["channels"])) == ("case_009", (), 2)


def test_nnunet_msd_variant_has_no_channel_suffix(tmp_path: Path):
    desc = {"modality": {"0": "CT"}, "training": [{"image": "./imagesTr/liver_0000.nii.gz"}], "test": []}
    (tmp_path / "dataset.json").write_text(json.dumps(desc))
    _nifti(tmp_path / "imagesTr" / "liver_0000.nii.gz")  # a case id that looks like a channel suffix
    _nifti(tmp_path / "labelsTr" / "liver_0000.nii.gz", 1)
    _nifti(tmp_path / "imagesTr" / "._liver_0000.nii.gz")  # macOS debris in MSD tarballs
    (s,) = load_dataset(tmp_path).samples
    assert (s.patient_id, s.image.name, [m.name for m in s.masks]) == (
        "liver_0000",
        "liver_0000.nii.gz",
        ["liver_0000.nii.gz"],
    )


def test_nnunet_missing_channel_is_an_error(tmp_path: Path):
    (tmp_path / "dataset.json").write_text(json.dumps({"channel_names": {"0": "T1", "1": "T2"}}))
    _nifti(tmp_path / "imagesTr" / "a_0000.nii.gz")
    with pytest.raises(TumorscopeError, match="channels") as err:
        load_dataset(tmp_path)
    assert "a_0000.nii.gz" in str(err.value)


def test_nnunet_broken_dataset_json_is_named(tmp_path: Path):
    (tmp_path / "dataset.json").write_text("{not json")
    _nifti(tmp_path / "imagesTr" / "a_0000.nii.gz")
    with pytest.raises(TumorscopeError, match="dataset.json"):
        load_dataset(tmp_path)


# --- the real datasets ------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_lgg_patients_slices_and_labels(lgg_dir: Path):
    ds = load_dataset(lgg_dir)
    assert ds.layout == "lgg_kaggle3m"
    assert (len(ds), len(ds.patients)) == (1522, 83)
    assert ds.classes == {"no_tumor": 506, "tumor": 1016}
    assert all(len(s.masks) == 1 for s in ds.samples)
    volume = ds.by_patient()["TCGA_CS_4942"]
    assert [s.slice_index for s in volume] == list(range(1, 21))


@pytest.mark.shared_data
def test_busi_real_extra_masks(busi_dir: Path):
    ds = load_dataset(busi_dir)
    masks = {s.image.name: len(s.masks) for s in ds.samples}
    assert masks["benign (4).png"] == masks["benign (25).png"] == 2
    assert sum(masks.values()) == 130


@pytest.mark.shared_data
def test_dicom_real_annotations_hit_slices_9_to_18(dicom_dir: Path):
    ds = load_dataset(dicom_dir)
    annotated = sorted(s.image.name for s in ds.samples if s.boxes)
    assert annotated == [f"1-{i:02d}.dcm" for i in range(9, 19)]
    assert {s.label for s in ds.samples if s.boxes} == {"A"}
    assert sorted(s.slice_index or 0 for s in ds.samples) == list(range(1, 31))
