"""``tumorscope convert``: NIfTI / kaggle_3m patient -> DICOM series -> read back (and to NIfTI again)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from tumorscope.cli import main
from tumorscope.errors import TumorscopeError
from tumorscope.io import read_image
from tumorscope.pacs.convert import pseudonym, to_dicom_series, to_nifti
from tumorscope.predict.inputs import read_input

KAGGLE_PATIENT = "TCGA_CS_4942_19970222"


@pytest.fixture
def oblique_nifti(tmp_path: Path) -> Path:
    """A 5x6x4 int16 volume, 0.9 x 0.9 x 3 mm, rotated 0.3 rad about z, shifted origin."""
    c, s = np.cos(0.3), np.sin(0.3)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag([0.9, 0.9, 3.0])
    affine[:3, 3] = [10.0, -20.0, 30.0]
    data = (np.arange(5 * 6 * 4).reshape(5, 6, 4) * 37 - 300).astype(np.int16)  # negatives: shifted
    path = tmp_path / "brain.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    return path


@pytest.mark.parametrize("modality", ["MR", "CT"])
def test_nifti_round_trip_keeps_pixels_and_geometry(oblique_nifti: Path, tmp_path: Path, modality: str) -> None:
    src = read_image(oblique_nifti)
    files = to_dicom_series(oblique_nifti, tmp_path / "dcm", modality)  # type: ignore[arg-type]
    assert [f.name for f in files] == [f"IM{k:04d}.dcm" for k in range(1, 5)]
    back = read_image(tmp_path / "dcm")
    np.testing.assert_array_equal(back.array, src.array)  # integers kept exactly (intercept -300)
    np.testing.assert_allclose(back.spacing, src.spacing, atol=1e-5)
    np.testing.assert_allclose(back.origin, src.origin, atol=1e-5)
    np.testing.assert_allclose(back.direction, src.direction, atol=1e-6)
    ds = pydicom.dcmread(files[0])
    assert ds.Modality == modality
    assert ds.SOPClassUID == {"MR": pydicom.uid.MRImageStorage, "CT": pydicom.uid.CTImageStorage}[modality]
    assert ds.SeriesDescription == "tumorscope convert of brain"
    assert ds.PatientID == pseudonym("brain") and "brain" not in str(ds.PatientName)
    assert (ds.BitsAllocated, ds.PhotometricInterpretation) == (16, "MONOCHROME2")

    nii = to_nifti(tmp_path / "dcm", tmp_path / "again.nii.gz")
    again = read_image(nii)
    np.testing.assert_array_equal(again.array, src.array)
    np.testing.assert_allclose(again.origin, src.origin, atol=1e-4)


def test_every_conversion_has_fresh_uids(oblique_nifti: Path, tmp_path: Path) -> None:
    first = [pydicom.dcmread(f) for f in to_dicom_series(oblique_nifti, tmp_path / "a")]
    second = pydicom.dcmread(to_dicom_series(oblique_nifti, tmp_path / "b")[0])
    assert len({d.SOPInstanceUID for d in first}) == 4
    assert len({d.SeriesInstanceUID for d in first}) == 1
    for key in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "SOPInstanceUID"):
        assert getattr(second, key) != getattr(first[0], key)


def test_slice_folder_gets_1mm_geometry_and_cli_round_trip(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    slices = tmp_path / "slices"
    slices.mkdir()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 8, 7, 3), dtype=np.uint8)
    for k, rgb in enumerate(pixels):
        PILImage.fromarray(rgb).save(slices / f"s_{k + 1}.png")
    assert main(["convert", "-i", str(slices), "-o", str(tmp_path / "dcm"), "--to", "dicom"]) == 0
    back = read_image(tmp_path / "dcm")
    np.testing.assert_array_equal(back.array[..., 0], pixels[..., 1])  # the display channel, unscaled
    assert back.spacing == (1.0, 1.0, 1.0) and back.origin == (0.0, 0.0, 0.0)
    assert main(["convert", "-i", str(tmp_path / "dcm"), "-o", str(tmp_path / "v.nii"), "--to", "nifti"]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "v.nii").array[..., 0], pixels[..., 1])


def test_missing_input_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TumorscopeError, match="nope"):
        to_dicom_series(tmp_path / "nope", tmp_path / "dcm")
    assert not (tmp_path / "dcm").exists()


def _patient(lgg_dir: Path) -> Path:
    patient = lgg_dir / "kaggle_3m" / KAGGLE_PATIENT
    if not patient.is_dir():
        pytest.skip(f"{patient} not found")
    return patient


@pytest.mark.shared_data
def test_kaggle_patient_reads_back_as_flair(lgg_dir: Path, tmp_path: Path) -> None:
    """kaggle_3m slices are RGB (pre, FLAIR, post); the series keeps FLAIR (channel 1) exactly."""
    patient = _patient(lgg_dir)
    src = read_input(patient)
    files = to_dicom_series(patient, tmp_path / "dcm")
    back = read_image(tmp_path / "dcm")
    assert len(files) == len(src.slices) == back.array.shape[0]
    np.testing.assert_array_equal(back.array[..., 0], src.slices[..., 1])
    assert back.spacing == (1.0, 1.0, 1.0)
    assert pydicom.dcmread(files[0]).SeriesDescription == f"tumorscope convert of {KAGGLE_PATIENT}"
    named = tmp_path / KAGGLE_PATIENT  # a DICOM series in a folder named like a kaggle patient is still a series
    (tmp_path / "dcm").rename(named)
    assert read_input(named).family == "volume"


@pytest.mark.shared_data
@pytest.mark.slow
def test_predict_on_the_series_matches_the_patient_folder(lgg_dir: Path, tmp_path: Path) -> None:
    """Not the same mask: on FLAIR alone only the FLAIR-only members of the default ensemble vote (the mri3
    members need the three sequences), so the masks agree closely rather than exactly (Dice 0.987 here)."""
    from tumorscope.io import read_mask

    patient = _patient(lgg_dir)
    to_dicom_series(patient, tmp_path / "dcm")
    assert main(["predict", "-i", str(patient), "-o", str(tmp_path / "p_tif")]) == 0
    assert main(["predict", "-i", str(tmp_path / "dcm"), "-o", str(tmp_path / "p_dcm")]) == 0
    names = read_input(patient).names
    from_tif = np.stack([read_mask(tmp_path / "p_tif" / "masks" / f"{n}_mask.png") for n in names])
    from_dcm = read_image(tmp_path / "p_dcm" / "mask.nii.gz").array[..., 0] > 0
    assert from_tif.sum() > 1000
    dice = 2 * (from_tif & from_dcm).sum() / (from_tif.sum() + from_dcm.sum())
    assert dice > 0.95


def test_dciodvfy_finds_no_errors(oblique_nifti: Path, tmp_path: Path) -> None:
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy not installed (make services installs dicom3tools)")
    for modality in ("MR", "CT"):
        first = to_dicom_series(oblique_nifti, tmp_path / modality, modality)[0]  # type: ignore[arg-type]
        run = subprocess.run([tool, str(first)], capture_output=True, text=True, timeout=60)
        report = run.stdout + run.stderr
        assert f"{modality}Image" in report
        assert not [line for line in report.splitlines() if line.startswith("Error")], report


def test_float_volume_is_mapped_onto_16_bits(tmp_path: Path) -> None:
    data = np.linspace(-1.0, 2.5, 2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "f.nii")
    to_dicom_series(tmp_path / "f.nii", tmp_path / "dcm")
    back = read_image(tmp_path / "dcm")
    np.testing.assert_allclose(back.array[..., 0], np.transpose(data, (2, 1, 0)), atol=3.5 / 65535)
