"""Writers and round trips: geometry survives DICOM -> NIfTI -> read, pixels survive PNG."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image as PILImage

from tumorscope.errors import TumorscopeError
from tumorscope.io import Image, read_image, read_mask, write_image, write_mask

RNG = np.random.default_rng(4)


def assert_same_image(a: Image, b: Image) -> None:
    assert a.array.dtype == b.array.dtype
    np.testing.assert_array_equal(a.array, b.array)
    np.testing.assert_allclose(a.spacing, b.spacing, rtol=1e-6)
    np.testing.assert_allclose(a.origin, b.origin, atol=1e-4)
    np.testing.assert_allclose(a.direction, b.direction, atol=1e-6)


def _volume(direction: np.ndarray, channels: int = 1) -> Image:
    array = RNG.random((3, 4, 5, channels)).astype(np.float32)
    return Image(array, (0.5, 0.7, 2.5), (-10.0, 20.0, 30.0), tuple(direction.ravel().tolist()))


@pytest.mark.parametrize("name", ["out.nii", "out.nii.gz"])
def test_nifti_round_trip_keeps_oblique_flipped_geometry(
    tmp_path: Path, flipped: np.ndarray, name: str
) -> None:
    image = _volume(flipped)
    assert write_image(image, tmp_path / name) == tmp_path / name
    assert_same_image(read_image(tmp_path / name), image)
    reference = sitk.ReadImage(str(tmp_path / name))  # other tools see the same geometry
    np.testing.assert_allclose(reference.GetDirection(), image.direction, atol=1e-6)
    np.testing.assert_allclose(reference.GetOrigin(), image.origin, atol=1e-4)


def test_nibabel_made_lps_flipped_nifti_read_write_read(tmp_path: Path) -> None:
    affine = np.array([[0.0, 0.0, -2.0, 40.0], [-0.8, 0.0, 0.0, 10.0], [0.0, 0.9, 0.0, -5.0], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(RNG.integers(0, 500, (4, 5, 6)).astype(np.int16), affine), tmp_path / "a.nii.gz")
    first = read_image(tmp_path / "a.nii.gz")
    write_image(first, tmp_path / "b.nii.gz")
    second = read_image(tmp_path / "b.nii.gz")
    assert_same_image(second, first)
    np.testing.assert_allclose(nib.Nifti1Image.from_filename(tmp_path / "b.nii.gz").affine, affine, atol=1e-5)


def test_multichannel_volume_round_trip(tmp_path: Path, rotated: np.ndarray) -> None:
    image = _volume(rotated, channels=3)
    write_image(image, tmp_path / "mm.nii.gz")
    assert nib.Nifti1Image.from_filename(tmp_path / "mm.nii.gz").shape == (5, 4, 3, 3)
    assert_same_image(read_image(tmp_path / "mm.nii.gz"), image)


def test_synthetic_dicom_series_to_nifti_round_trip(
    tmp_path: Path, dicom_series: Callable, rotated: np.ndarray
) -> None:
    dicom_series(tmp_path / "dcm", n=4, rot=rotated, slope=1.5)
    series = read_image(tmp_path / "dcm")
    write_image(series, tmp_path / "ct.nii.gz")
    assert_same_image(read_image(tmp_path / "ct.nii.gz"), series)


@pytest.mark.parametrize("dtype", [np.int64, np.int16, np.uint8, np.float64, np.bool_])
def test_nifti_keeps_integer_and_float_dtypes(tmp_path: Path, dtype: type) -> None:
    image = Image.from_array((RNG.random((2, 3, 4, 1)) * 100).astype(dtype))
    write_image(image, tmp_path / "d.nii.gz")
    again = read_image(tmp_path / "d.nii.gz")
    assert again.array.dtype == (np.uint8 if dtype is np.bool_ else dtype)
    np.testing.assert_array_equal(again.array, image.array)


def test_2d_nifti_round_trip(tmp_path: Path) -> None:
    image = Image.from_array(RNG.random((4, 5, 1)).astype(np.float32), spacing=(0.5, 0.25), origin=(1.0, 2.0))
    write_image(image, tmp_path / "p.nii")
    assert_same_image(read_image(tmp_path / "p.nii"), image)


@pytest.mark.parametrize(
    "array",
    [
        RNG.integers(0, 256, (6, 7, 1), dtype=np.uint8),
        RNG.integers(0, 256, (6, 7, 2), dtype=np.uint8),
        RNG.integers(0, 256, (6, 7, 3), dtype=np.uint8),
        RNG.integers(0, 256, (6, 7, 4), dtype=np.uint8),
        RNG.integers(0, 65536, (6, 7, 1), dtype=np.uint16),
    ],
    ids=["gray", "gray_alpha", "rgb", "rgba", "u16"],
)
def test_png_read_write_read(tmp_path: Path, array: np.ndarray) -> None:
    PILImage.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(tmp_path / "in.png")
    first = read_image(tmp_path / "in.png")
    write_image(first, tmp_path / "out.png")
    second = read_image(tmp_path / "out.png")
    assert second.array.dtype == array.dtype
    np.testing.assert_array_equal(second.array, array)


def test_write_replaces_atomically_and_leaves_no_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "x.png"
    target.write_bytes(b"old")
    write_image(Image.from_array(np.zeros((2, 3, 1), np.uint8)), target)
    write_image(_volume(np.eye(3)), tmp_path / "v.nii.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.nii.gz", "x.png"]
    assert read_image(target).array.shape == (2, 3, 1)


@pytest.mark.parametrize(
    "image, name, match",
    [
        (_volume(np.eye(3)), "v.png", "PNG holds 2-D images only"),
        (Image.from_array(np.zeros((2, 3, 1), np.float32)), "f.png", "PNG cannot hold float32"),
        (Image.from_array(np.zeros((2, 3, 3), np.uint16)), "c.png", "PNG cannot hold uint16 pixels with 3"),
        (Image.from_array(np.zeros((2, 3, 3), np.uint8)), "rgb.nii.gz", "2-D multi-channel"),
        (Image.from_array(np.zeros((2, 3, 1), np.uint8)), "x.jpg", "cannot write '.jpg'"),
    ],
)
def test_unwritable_combinations(tmp_path: Path, image: Image, name: str, match: str) -> None:
    with pytest.raises(TumorscopeError, match=match) as info:
        write_image(image, tmp_path / name)
    assert info.value.path == tmp_path / name
    assert list(tmp_path.iterdir()) == []


def test_write_mask_nifti_is_uint8_0_1_with_the_geometry_of_like(tmp_path: Path, flipped: np.ndarray) -> None:
    like = _volume(flipped)
    mask = RNG.random(like.spatial_shape) > 0.5
    write_mask(mask, like, tmp_path / "m.nii.gz")
    stored = read_image(tmp_path / "m.nii.gz")
    assert stored.array.dtype == np.uint8 and set(np.unique(stored.array)) == {0, 1}
    assert_same_image(stored, like.with_array(mask.astype(np.uint8)[..., None]))
    np.testing.assert_array_equal(read_mask(tmp_path / "m.nii.gz"), mask)


def test_write_mask_png_is_0_255(tmp_path: Path) -> None:
    like = Image.from_array(np.zeros((6, 7, 3), np.uint8))
    mask = RNG.random((6, 7)) > 0.5
    write_mask(mask, like, tmp_path / "m.png")
    assert set(np.unique(np.asarray(PILImage.open(tmp_path / "m.png")))) == {0, 255}
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), mask)
    with pytest.raises(ValueError, match="differs"):
        write_mask(mask[:5], like, tmp_path / "bad.png")
