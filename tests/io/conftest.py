"""Builders for synthetic DICOM files used by the io tests (tiny slices written with pydicom)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

STUDY_UID = generate_uid()


def write_dicom_slice(
    path: Path,
    pixels: np.ndarray,
    *,
    series_uid: str,
    position: Sequence[float] | np.ndarray = (0.0, 0.0, 0.0),
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    pixel_spacing: tuple[float, float] = (0.7, 0.5),
    slope: float = 1.0,
    intercept: float = -1024.0,
    instance: int = 1,
    description: str = "synthetic CT",
) -> Path:
    """Write one DICOM file: uint16 gray CT when ``pixels`` is 2-D, 8-bit RGB secondary capture when (Y, X, 3)."""
    rgb = pixels.ndim == 3
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage if rgb else CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = series_uid
    ds.PatientID = "SYN-001"
    ds.Modality = "OT" if rgb else "CT"
    ds.SeriesDescription = description
    ds.InstanceNumber = instance
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PixelRepresentation = 0
    if rgb:
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()
    else:
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.ImagePositionPatient = [float(v) for v in position]
        ds.ImageOrientationPatient = [float(v) for v in orientation]
        ds.PixelSpacing = list(pixel_spacing)
        ds.SliceThickness = 2.0
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
        ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def rotation(ax: float, ay: float, az: float) -> np.ndarray:
    """A proper rotation matrix from angles (radians) about x, y, z."""
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def write_series(
    folder: Path,
    n: int = 4,
    shape: tuple[int, int] = (5, 6),
    dz: float = 2.5,
    rot: np.ndarray | None = None,
    origin: Sequence[float] = (-10.0, 20.0, 30.0),
    positions: Sequence[float] | None = None,
    **kwargs,
) -> tuple[str, np.ndarray]:
    """A series of ``n`` slices along the normal of ``rot``; files named in REVERSE position order.

    Slice k (in position order) holds raw values ``1000 + 100 * k + pixel index``. Returns
    (series UID, the raw uint16 volume in position order).
    """
    rot = np.eye(3) if rot is None else rot
    uid = generate_uid()
    offsets = [k * dz for k in range(n)] if positions is None else list(positions)
    raw = np.stack([1000 + 100 * k + np.arange(shape[0] * shape[1]).reshape(shape) for k in range(n)]).astype(
        np.uint16
    )
    orientation = (*rot[:, 0], *rot[:, 1])
    for k, offset in enumerate(offsets):
        position = np.asarray(origin) + offset * rot[:, 2]
        write_dicom_slice(
            folder / f"IM{n - k:04d}.dcm",
            raw[k],
            series_uid=uid,
            position=position,
            orientation=orientation,
            instance=k + 1,
            **kwargs,
        )
    return uid, raw


@pytest.fixture
def dicom_slice() -> Callable[..., Path]:
    return write_dicom_slice


@pytest.fixture
def dicom_series() -> Callable[..., tuple[str, np.ndarray]]:
    return write_series


@pytest.fixture
def rotated() -> np.ndarray:
    """An oblique direction matrix (a proper rotation, as DICOM slices have)."""
    return rotation(0.3, -0.2, 0.5)


@pytest.fixture
def flipped(rotated: np.ndarray) -> np.ndarray:
    """An oblique, left-handed direction matrix (one axis flipped): the hard case for NIfTI geometry."""
    return rotated @ np.diag([1.0, -1.0, 1.0])
