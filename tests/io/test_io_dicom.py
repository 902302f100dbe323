"""DICOM series folders and single files, on synthetic slices written with pydicom."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from tumorscope.errors import TumorscopeError
from tumorscope.io import probe_image, read_image
from tumorscope.io.dicom import find_series


def test_series_is_sorted_by_position_with_hu_and_oblique_geometry(
    tmp_path: Path, dicom_series: Callable, rotated: np.ndarray
) -> None:
    _, raw = dicom_series(tmp_path, n=4, dz=2.5, rot=rotated, slope=2.0, intercept=-1000.0)
    image = read_image(tmp_path)
    assert image.array.shape == (4, 5, 6, 1) and image.array.dtype == np.float32
    np.testing.assert_array_equal(
        image.array[..., 0], raw * 2.0 - 1000.0
    )  # position order, not file-name order
    np.testing.assert_allclose(image.spacing, (0.5, 0.7, 2.5))  # PixelSpacing is (row, column) = (dy, dx)
    np.testing.assert_allclose(image.origin, (-10.0, 20.0, 30.0))
    np.testing.assert_allclose(np.reshape(image.direction, (3, 3)), rotated, atol=1e-9)
    assert image.metadata["n_slices"] == 4 and image.metadata["PatientID"] == "SYN-001"
    assert [Path(f).name for f in image.metadata["files"]] == [
        "IM0004.dcm",
        "IM0003.dcm",
        "IM0002.dcm",
        "IM0001.dcm",
    ]
    assert len(set(image.metadata["sop_instance_uids"])) == 4
    assert image.path == tmp_path


def test_series_matches_simpleitk_gdcm_reader(
    tmp_path: Path, dicom_series: Callable, rotated: np.ndarray
) -> None:
    dicom_series(tmp_path, n=5, dz=1.25, rot=rotated)
    reader = sitk.ImageSeriesReader()
    (uid,) = reader.GetGDCMSeriesIDs(str(tmp_path))
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path), uid))
    reference = reader.Execute()
    image = read_image(tmp_path)
    np.testing.assert_array_equal(image.array[..., 0], sitk.GetArrayFromImage(reference))
    np.testing.assert_allclose(image.spacing, reference.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(image.origin, reference.GetOrigin(), atol=1e-6)
    np.testing.assert_allclose(image.direction, reference.GetDirection(), atol=1e-6)


def test_two_series_in_one_folder_need_series_uid(tmp_path: Path, dicom_series: Callable) -> None:
    uid_a, raw_a = dicom_series(tmp_path / "a", n=3, description="axial soft")
    uid_b, raw_b = dicom_series(tmp_path / "b", n=2, description="axial lung")
    for f in (tmp_path / "b").iterdir():
        f.rename(tmp_path / f"b_{f.name}")
    for f in (tmp_path / "a").iterdir():
        f.rename(tmp_path / f.name)
    with pytest.raises(TumorscopeError, match="holds 2 DICOM series") as info:
        read_image(tmp_path)
    message = str(info.value)
    assert uid_a in message and uid_b in message
    assert "'axial soft' (3 CT slices" in message and "'axial lung' (2 CT slices" in message
    np.testing.assert_array_equal(read_image(tmp_path, series_uid=uid_b).array[..., 0], raw_b - 1024.0)
    assert read_image(tmp_path, series_uid=uid_a).array.shape == (3, 5, 6, 1)
    with pytest.raises(TumorscopeError, match="no DICOM series 1.2.3 here; series found: "):
        read_image(tmp_path, series_uid="1.2.3")


def test_nested_nbia_layout_with_double_spaces_and_other_files(
    tmp_path: Path, dicom_series: Callable
) -> None:
    series_dir = (
        tmp_path
        / "manifest-1"
        / "Lung_Dx-A0001"
        / "04-25-2007-NA-Thorax  Routine-1"
        / "3.000000-Thorax  8.0.0  B40f-1"
    )
    uid, raw = dicom_series(series_dir, n=3)
    (tmp_path / "metadata.csv").write_text("Series UID,Number of Images\n")
    (series_dir.parent / "LICENSE").write_text("CC BY 4.0")
    assert [s.uid for s in find_series(tmp_path)] == [uid]
    image = read_image(tmp_path)
    assert image.path == series_dir and image.metadata["SeriesInstanceUID"] == uid
    np.testing.assert_array_equal(image.array[..., 0], raw - 1024.0)


def test_single_file_is_a_2d_slice_with_metadata(tmp_path: Path, dicom_slice: Callable) -> None:
    raw = np.arange(20, dtype=np.uint16).reshape(4, 5) * 10
    path = dicom_slice(
        tmp_path / "one.dcm", raw, series_uid="1.2.826.0.1.5", position=(1.0, 2.0, 3.5), intercept=-1024.0
    )
    image = read_image(path)
    assert image.array.shape == (4, 5, 1) and image.array.dtype == np.float32
    np.testing.assert_array_equal(image.array[..., 0], raw - 1024.0)
    assert image.spacing == (0.5, 0.7)
    meta = image.metadata
    assert meta["Modality"] == "CT" and meta["PatientID"] == "SYN-001"
    assert meta["SeriesInstanceUID"] == "1.2.826.0.1.5" and meta["SOPInstanceUID"].startswith("1.2.")
    assert meta["ImagePositionPatient"] == [1.0, 2.0, 3.5] and meta["InstanceNumber"] == 1
    assert probe_image(path) == {
        "shape": (4, 5, 1),
        "dtype": "float32",
        "mode": "MONOCHROME2",
        "format": "DICOM",
    }


def test_dicom_file_without_extension_is_recognised(tmp_path: Path, dicom_slice: Callable) -> None:
    path = dicom_slice(tmp_path / "IM_0001", np.ones((3, 4), np.uint16), series_uid="1.2.3")
    assert read_image(path).array.shape == (3, 4, 1)


def test_rgb_dicom_file(tmp_path: Path, dicom_slice: Callable) -> None:
    rgb = np.random.default_rng(2).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    path = dicom_slice(tmp_path / "rgb.dcm", rgb, series_uid="1.2.3")
    image = read_image(path)
    assert image.array.dtype == np.uint8
    np.testing.assert_array_equal(image.array, rgb)
    assert probe_image(path)["shape"] == (4, 5, 3)


def test_probe_matches_read_for_a_series(tmp_path: Path, dicom_series: Callable) -> None:
    dicom_series(tmp_path, n=3)
    image = read_image(tmp_path)
    assert probe_image(tmp_path) == {
        "shape": image.array.shape,
        "dtype": "float32",
        "mode": "MONOCHROME2",
        "format": "DICOM",
    }


def test_single_slice_series_takes_slice_thickness(tmp_path: Path, dicom_series: Callable) -> None:
    dicom_series(tmp_path, n=1)
    image = read_image(tmp_path)
    assert image.array.shape == (1, 5, 6, 1) and image.spacing[2] == 2.0


def test_missing_slice_warns_and_is_flagged(tmp_path: Path, dicom_series: Callable) -> None:
    dicom_series(tmp_path, n=4, positions=[0.0, 2.5, 5.0, 10.0])
    with pytest.warns(UserWarning, match="irregular"):
        image = read_image(tmp_path)
    assert image.metadata["irregular_slice_spacing"] is True and image.spacing[2] == 2.5


def test_slices_at_the_same_position_are_refused(tmp_path: Path, dicom_series: Callable) -> None:
    dicom_series(tmp_path, n=3, positions=[0.0, 2.5, 2.5])
    with pytest.raises(TumorscopeError, match="share a position"):
        read_image(tmp_path)


def test_mixed_orientations_are_refused(
    tmp_path: Path, dicom_series: Callable, dicom_slice: Callable, rotated: np.ndarray
) -> None:
    uid, _ = dicom_series(tmp_path, n=2)
    localizer = (*rotated[:, 0], *rotated[:, 1])
    dicom_slice(
        tmp_path / "localizer.dcm", np.zeros((5, 6), np.uint16), series_uid=uid, orientation=localizer
    )
    with pytest.raises(TumorscopeError, match="different orientations"):
        read_image(tmp_path)
