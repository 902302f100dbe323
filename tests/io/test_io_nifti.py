"""NIfTI reading: geometry in ITK convention (checked against SimpleITK), layouts, scaling."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from tumorscope.io import probe_image, read_image

RNG = np.random.default_rng(3)


def _sitk_volume(path: Path, array: np.ndarray, direction: np.ndarray, is_vector: bool = False) -> sitk.Image:
    img = sitk.GetImageFromArray(array, isVector=is_vector)
    img.SetSpacing((0.5, 0.7, 2.5))
    img.SetOrigin((-10.0, 20.0, 30.0))
    img.SetDirection(direction.ravel().tolist())
    sitk.WriteImage(img, str(path))
    return img


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_geometry_matches_simpleitk_for_a_flipped_oblique_volume(
    tmp_path: Path, flipped: np.ndarray, name: str
) -> None:
    volume = RNG.random((3, 4, 5)).astype(np.float32)
    reference = _sitk_volume(tmp_path / name, volume, flipped)
    image = read_image(tmp_path / name)
    assert image.array.shape == (3, 4, 5, 1) and image.array.dtype == np.float32
    np.testing.assert_array_equal(image.array[..., 0], volume)
    np.testing.assert_allclose(image.spacing, reference.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(image.origin, reference.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(image.direction, reference.GetDirection(), atol=1e-6)
    assert probe_image(tmp_path / name) == {
        "shape": (3, 4, 5, 1),
        "dtype": "float32",
        "mode": "3-D",
        "format": "NIfTI",
    }


def test_4d_multimodal_nifti_puts_modalities_in_channels(tmp_path: Path) -> None:
    data = RNG.integers(0, 1000, (5, 4, 3, 2)).astype(np.int16)  # x, y, z, modality
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = [10.0, 20.0, 30.0]
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "mm.nii.gz")
    image = read_image(tmp_path / "mm.nii.gz")
    assert image.array.shape == (3, 4, 5, 2) and image.array.dtype == np.int16
    np.testing.assert_array_equal(image.array[..., 1], data[..., 1].T)
    assert image.spacing == (2.0, 3.0, 4.0)
    assert image.origin == (-10.0, -20.0, 30.0)  # RAS -> LPS flips x and y
    assert image.direction == (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)
    assert probe_image(tmp_path / "mm.nii.gz")["shape"] == (3, 4, 5, 2)


def test_vector_nifti_puts_components_in_channels(tmp_path: Path, rotated: np.ndarray) -> None:
    volume = RNG.random((3, 4, 5, 2)).astype(np.float32)
    _sitk_volume(tmp_path / "vec.nii.gz", volume, rotated, is_vector=True)
    image = read_image(tmp_path / "vec.nii.gz")
    np.testing.assert_array_equal(image.array, volume)
    assert probe_image(tmp_path / "vec.nii.gz")["shape"] == (3, 4, 5, 2)


def test_2d_nifti_is_a_2d_image(tmp_path: Path) -> None:
    plane = RNG.random((4, 5)).astype(np.float32)
    img = sitk.GetImageFromArray(plane)
    img.SetSpacing((0.5, 0.75))
    img.SetOrigin((3.0, 4.0))
    sitk.WriteImage(img, str(tmp_path / "plane.nii"))
    image = read_image(tmp_path / "plane.nii")
    assert image.array.shape == (4, 5, 1) and image.spacing == (0.5, 0.75) and image.origin == (3.0, 4.0)
    np.testing.assert_array_equal(image.array[..., 0], plane)


def test_scaled_integers_read_as_float32(tmp_path: Path) -> None:
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(0.5, -1024.0)
    nib.save(img, tmp_path / "ct.nii")
    image = read_image(tmp_path / "ct.nii")
    assert image.array.dtype == np.float32
    np.testing.assert_allclose(image.array[..., 0], data.T * 0.5 - 1024.0)
    assert probe_image(tmp_path / "ct.nii")["dtype"] == "float32"


def test_nifti_without_orientation_gets_pixdim_spacing_and_identity(tmp_path: Path) -> None:
    img = nib.Nifti1Image(np.zeros((2, 3, 4), np.uint8), None)
    img.header.set_zooms((1.5, 2.0, 3.0))
    img.header.set_qform(None, code=0)
    img.header.set_sform(None, code=0)
    nib.save(img, tmp_path / "bare.nii")
    image = read_image(tmp_path / "bare.nii")
    assert image.spacing == (1.5, 2.0, 3.0) and image.origin == (0.0, 0.0, 0.0)
    assert image.direction == tuple(np.eye(3).ravel())
