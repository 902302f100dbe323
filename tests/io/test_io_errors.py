"""Damaged, missing, empty and unsupported inputs give one TumorscopeError naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import tifffile
from PIL import Image as PILImage

from tumorscope.errors import TumorscopeError
from tumorscope.io import probe_image, read_image, read_mask

RGB = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def _raises(path: Path, match: str, reader: Callable[[Path], object] = read_image) -> TumorscopeError:
    with pytest.raises(TumorscopeError, match=match) as info:
        reader(path)
    assert info.value.path == path and str(info.value).startswith(str(path))
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    _raises(tmp_path / "nope.png", "no such file")
    _raises(tmp_path / "nope.png", "no such file", read_mask)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.touch()
    _raises(path, "file is empty")
    _raises(path, "file is empty", probe_image)


@pytest.mark.parametrize("name", ["notes.txt", "volume.mha", "archive.gz", "noextension"])
def test_unsupported_format(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("not an image\n")
    _raises(path, "unsupported format")


def test_text_file_renamed_png(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_text("hello, I am text\n")
    _raises(path, "cannot read PNG: cannot identify image file")


def _save_png(p: Path) -> None:
    PILImage.fromarray(RGB).save(p)


def _save_jpeg(p: Path) -> None:
    PILImage.fromarray(RGB).save(p, quality=90)


def _save_tiff(p: Path) -> None:
    tifffile.imwrite(p, RGB, photometric="rgb", compression="deflate", predictor=True)


def _save_raw_tiff(p: Path) -> None:
    tifffile.imwrite(p, RGB, photometric="rgb")


@pytest.mark.parametrize(
    "name, save, kind",
    [
        ("x.png", _save_png, "PNG"),
        ("x.jpg", _save_jpeg, "JPEG"),
        ("x.tif", _save_tiff, "TIFF"),
        ("x.tiff", _save_raw_tiff, "TIFF"),
    ],
)
def test_truncated_raster(tmp_path: Path, name: str, save: Callable[[Path], None], kind: str) -> None:
    path = tmp_path / name
    save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _raises(path, f"cannot read {kind}: ")
    _raises(path, f"cannot read {kind}: ", read_mask)


def test_truncated_dicom(tmp_path: Path, dicom_slice: Callable[..., Path]) -> None:
    path = dicom_slice(tmp_path / "slice.dcm", np.zeros((8, 8), np.uint16), series_uid="1.2.3.4")
    data = path.read_bytes()
    path.write_bytes(data[:-20])  # pixel data cut short
    _raises(path, "cannot read DICOM: ")
    path.write_bytes(data[:200])  # header cut short
    _raises(path, "cannot read DICOM: ")


def test_truncated_slice_in_series_names_that_slice(tmp_path: Path, dicom_series: Callable) -> None:
    dicom_series(tmp_path, n=3)
    bad = tmp_path / "IM0002.dcm"
    bad.write_bytes(bad.read_bytes()[:-20])
    err = _raises(bad, "cannot read DICOM: ", lambda _: read_image(tmp_path))
    assert err.path == bad


def test_folder_without_dicom(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "readme.txt").write_text("no images here")
    _raises(tmp_path, "no DICOM image files found")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nifti_with_nan_or_inf_names_the_file(tmp_path: Path, bad: float) -> None:
    volume = np.zeros((3, 4, 5), np.float32)
    volume[1, 2, 3] = bad
    path = tmp_path / "bad.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(volume), str(path))
    _raises(path, "1 NaN or infinite voxel")


def test_truncated_nifti(tmp_path: Path) -> None:
    path = tmp_path / "cut.nii"
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((4, 8, 8), np.float32)), str(path))
    path.write_bytes(path.read_bytes()[:400])
    _raises(path, "cannot read NIfTI: ")
