"""Integration tests on the real shared datasets (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from tumorscope.data.layouts.lgg_kaggle3m import slice_files
from tumorscope.errors import TumorscopeError
from tumorscope.io import probe_image, read_image, read_mask, stack_slices, to_gray, write_image
from tumorscope.io.mask import mask_is_empty

pytestmark = pytest.mark.shared_data

LGG_PATIENT = "kaggle_3m/TCGA_CS_4942_19970222"
BUSI = "Dataset_BUSI_with_GT"


def test_lgg_slice_and_mask(lgg_dir: Path) -> None:
    patient = lgg_dir / LGG_PATIENT
    path = patient / "TCGA_CS_4942_19970222_1.tif"
    image = read_image(path)
    assert image.array.shape == (256, 256, 3) and image.array.dtype == np.uint8
    assert probe_image(path)["shape"] == (256, 256, 3)
    tumor_masks = [m for _, _, m in slice_files(patient) if m is not None and not mask_is_empty(m)]
    assert tumor_masks and read_mask(tumor_masks[0], shape=(256, 256)).any()
    assert mask_is_empty(patient / "TCGA_CS_4942_19970222_1_mask.tif")


def test_lgg_patient_folder_stacks_into_a_volume(lgg_dir: Path) -> None:
    slices = [read_image(f) for _, f, _ in slice_files(lgg_dir / LGG_PATIENT)]
    volume = stack_slices(slices)
    assert volume.array.shape == (20, 256, 256, 3) and volume.path == lgg_dir / LGG_PATIENT
    np.testing.assert_array_equal(volume.array[4], slices[4].array)


def test_busi_masks_in_1bit_rgb_and_rgba(busi_dir: Path) -> None:
    folder = busi_dir / BUSI
    one_bit = folder / "malignant" / "malignant (6)_mask.png"
    rgb = folder / "benign" / "benign (13)_mask.png"
    assert probe_image(one_bit)["mode"] == "1" and probe_image(rgb)["mode"] == "RGB"
    for mask_file in (one_bit, rgb):
        image_file = mask_file.with_name(mask_file.name.replace("_mask", ""))
        shape = read_image(image_file).spatial_shape
        mask = read_mask(mask_file, shape=shape)
        assert 0 < mask.mean() < 0.5
    rgba = read_mask(folder / "benign" / "benign (4)_mask_1.png")  # opaque RGBA: alpha must not count
    assert rgba.shape == (465, 555) and 0 < rgba.mean() < 0.01


def test_busi_mismatched_mask_is_named(busi_dir: Path) -> None:
    folder = busi_dir / BUSI / "benign"
    image = read_image(folder / "benign (4).png")
    assert image.array.shape == (416, 416, 3)
    with pytest.raises(TumorscopeError) as info:
        read_mask(
            [folder / "benign (4)_mask.png", folder / "benign (4)_mask_1.png"], shape=image.spatial_shape
        )
    assert info.value.path == folder / "benign (4)_mask_1.png"
    assert "555x465 (width x height) does not match the image size 416x416" in str(info.value)


def test_dicom_series_geometry_hu_and_annotations(dicom_dir: Path) -> None:
    series_dir = next(dicom_dir.rglob("1-01.dcm")).parent
    volume = read_image(dicom_dir)  # found through the nested NBIA folders (double spaces included)
    assert volume.path == series_dir
    assert volume.array.shape == (30, 512, 512, 1) and volume.array.dtype == np.float32
    np.testing.assert_allclose(volume.spacing, (0.646484375, 0.646484375, 8.0))
    assert volume.origin[2] == 80.0 and volume.direction == tuple(np.eye(3).ravel())
    assert volume.array.min() == -1024.0  # HU: RescaleIntercept applied
    assert volume.metadata["Modality"] == "CT" and volume.metadata["PatientID"] == "Lung_Dx-A0002"
    annotated = {p.stem for p in (dicom_dir / "Annotation" / "A0002").glob("*.xml")}
    assert len(annotated & set(volume.metadata["sop_instance_uids"])) == 10

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(series_dir)))
    reference = reader.Execute()
    np.testing.assert_array_equal(volume.array[..., 0], sitk.GetArrayFromImage(reference))
    np.testing.assert_allclose(volume.origin, reference.GetOrigin())


def test_dicom_series_to_nifti_round_trip(dicom_dir: Path, tmp_path: Path) -> None:
    volume = read_image(dicom_dir)
    write_image(volume, tmp_path / "ct.nii.gz")
    again = read_image(tmp_path / "ct.nii.gz")
    np.testing.assert_array_equal(again.array, volume.array)
    np.testing.assert_allclose(again.spacing, volume.spacing, rtol=1e-6)
    np.testing.assert_allclose(again.origin, volume.origin, atol=1e-4)
    np.testing.assert_allclose(again.direction, volume.direction, atol=1e-6)


def test_one_dicom_file_of_the_series(dicom_dir: Path) -> None:
    path = next(dicom_dir.rglob("1-15.dcm"))
    image = read_image(path)
    assert image.array.shape == (512, 512, 1) and image.spacing == (0.646484375, 0.646484375)
    assert image.metadata["SOPInstanceUID"] and image.metadata["Modality"] == "CT"
    assert image.metadata["SeriesInstanceUID"] == read_image(dicom_dir).metadata["SeriesInstanceUID"]


@pytest.mark.parametrize("name, channels", [("Tr-gl_0537.jpg", 1), ("Tr-gl_0022.jpg", 3)])
def test_brain4_gray_and_rgb_jpegs(brain4_dir: Path, name: str, channels: int) -> None:
    path = brain4_dir / "Training" / "glioma" / name
    image = read_image(path)
    assert image.array.shape == (224, 224, channels) and image.array.dtype == np.uint8
    assert probe_image(path)["shape"] == image.array.shape
    assert to_gray(image).array.shape == (224, 224, 1)
