"""DICOM: a folder holding a series (a volume) or a single file (a slice).

Headers are read with pydicom; pixels are decoded by SimpleITK/GDCM (compressed transfer syntaxes
included) with RescaleSlope/Intercept applied, gray as float32 (HU for CT). Slices are ordered by
ImagePositionPatient projected on the slice normal, and the slice spacing comes from those
positions, not from SliceThickness.
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset

from tumorscope.errors import TumorscopeError
from tumorscope.io.formats import check_file, decoding, has_dicom_preamble, suffix
from tumorscope.io.image import Image

_DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
_SERIES_FIELDS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SeriesDescription", "Modality")
_FILE_FIELDS = (
    *_SERIES_FIELDS,
    "SOPInstanceUID",
    "InstanceNumber",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PhotometricInterpretation",
)


@dataclass(frozen=True)
class DicomSeries:
    """The image files of one SeriesInstanceUID found under a folder (headers only, unsorted)."""

    uid: str
    files: tuple[Path, ...]
    headers: tuple[Dataset, ...]

    @property
    def description(self) -> str:
        return str(self.headers[0].get("SeriesDescription", ""))

    @property
    def folder(self) -> Path:
        return Path(os.path.commonpath([f.parent for f in self.files]))

    def describe(self, root: Path) -> str:
        """One line: UID, description, slice count, modality and the folder relative to ``root``."""
        where = os.path.relpath(self.folder, root)
        modality = self.headers[0].get("Modality", "")
        return f"{self.uid} {self.description!r} ({len(self.files)} {modality} slices in {where!r})"


def find_series(folder: str | Path) -> list[DicomSeries]:
    """The DICOM image series in ``folder`` or, when it holds none, in its subfolders at any depth.

    Files count as DICOM when they carry the DICOM marker or a .dcm/.dicom/.ima extension;
    other files (CSV, XML, LICENSE...) and DICOM objects without pixels (DICOMDIR) are ignored.
    """
    root = Path(folder)
    if not root.is_dir():
        raise TumorscopeError("no such folder", root)
    found = _image_headers(sorted(p for p in root.iterdir() if p.is_file()))
    if not found:
        nested = (Path(d) / n for d, _dirs, names in sorted(os.walk(root)) for n in sorted(names))
        found = _image_headers(nested)
    groups: dict[str, list[tuple[Path, Dataset]]] = defaultdict(list)
    for path, ds in found:
        groups[str(ds.SeriesInstanceUID)].append((path, ds))
    series = [DicomSeries(uid, tuple(p for p, _ in g), tuple(d for _, d in g)) for uid, g in groups.items()]
    return sorted(series, key=lambda s: (str(s.folder), s.uid))


def select_series(folder: str | Path, series_uid: str | None = None) -> DicomSeries:
    """The one series of ``folder``, or the one named ``series_uid``; TumorscopeError listing them otherwise."""
    root = Path(folder)
    series = find_series(root)
    if not series:
        raise TumorscopeError("no DICOM image files found in this folder or its subfolders", root)
    listing = "; ".join(s.describe(root) for s in series)
    if series_uid is not None:
        chosen = [s for s in series if s.uid == series_uid]
        if not chosen:
            raise TumorscopeError(f"no DICOM series {series_uid} here; series found: {listing}", root)
        return chosen[0]
    if len(series) > 1:
        raise TumorscopeError(
            f"holds {len(series)} DICOM series, choose one with series_uid: {listing}", root
        )
    return series[0]


def read_dicom_series(folder: str | Path, series_uid: str | None = None) -> Image:
    """A volume ``(Z, Y, X, C)`` from the DICOM series in ``folder`` (see ``select_series``).

    Metadata: patient/study/series identifiers, ``files`` and ``sop_instance_uids`` in slice
    order, and ``irregular_slice_spacing`` (gaps or uneven steps between slices).
    """
    series = select_series(folder, series_uid)
    if len(series.files) == 1 and int(series.headers[0].get("NumberOfFrames", 1) or 1) > 1:
        return read_dicom_file(series.files[0])
    order, spacing_z, origin, direction, irregular = _slice_geometry(series)
    files = [series.files[i] for i in order]
    arrays = [_array(_decode(f)) for f in files]
    if len({a.shape for a in arrays}) > 1:
        raise TumorscopeError("slices of the series differ in size or frame count", series.folder)
    if irregular:
        warnings.warn(f"{series.folder}: slice spacing is irregular (missing slices?)", stacklevel=2)
    first = series.headers[order[0]]
    dy, dx = _pixel_spacing(first)
    return Image(
        array=np.concatenate(arrays),
        spacing=(dx, dy, spacing_z),
        origin=origin,
        direction=direction,
        metadata={
            **_fields(first, _SERIES_FIELDS),
            "n_slices": len(files),
            "files": [str(f) for f in files],
            "sop_instance_uids": [str(series.headers[i].get("SOPInstanceUID", "")) for i in order],
            "irregular_slice_spacing": irregular,
        },
        path=series.folder,
    )


def read_dicom_file(path: str | Path) -> Image:
    """One DICOM file: a slice ``(Y, X, C)`` (C = 3 for RGB) or, for a multi-frame file, a volume.

    A slice gets its pixel spacing and identity in-plane geometry; its 3-D position and
    orientation are in ``metadata`` (ImagePositionPatient, ImageOrientationPatient).
    """
    p = check_file(path)
    header = _image_header(p)
    img = _decode(p)
    array = _array(img)
    metadata = _fields(header, _FILE_FIELDS)
    if array.shape[0] > 1:
        return Image(array, img.GetSpacing(), img.GetOrigin(), img.GetDirection(), metadata, p)
    dy, dx = _pixel_spacing(header)
    return Image.from_array(array[0], spacing=(dx, dy), metadata=metadata, path=p)


def probe_dicom(path: str | Path, series_uid: str | None = None) -> dict[str, Any]:
    """Shape and dtype ``read_dicom_file``/``read_dicom_series`` would return, from headers only."""
    p = Path(path)
    if p.is_dir():
        series = select_series(p, series_uid)
        headers, n = series.headers, len(series.files)
    else:
        headers, n = (_image_header(check_file(p)),), 1
    first = headers[0]
    frames = int(first.get("NumberOfFrames", 1) or 1)
    channels = int(first.get("SamplesPerPixel", 1))
    plane = (int(first.Rows), int(first.Columns), channels)
    depth = n * frames if (p.is_dir() or frames > 1) else 0
    dtype = "float32" if channels == 1 else ("uint8" if int(first.get("BitsAllocated", 8)) == 8 else "uint16")
    return {
        "shape": (depth, *plane) if depth else plane,
        "dtype": dtype,
        "mode": str(first.get("PhotometricInterpretation", "")),
        "format": "DICOM",
    }


def _read_header(path: Path) -> Dataset:
    with decoding(path, "DICOM"):
        return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def _image_header(path: Path) -> Dataset:
    """The header of a DICOM file that must hold an image."""
    header = _read_header(path)
    if "Rows" not in header:
        raise TumorscopeError("cannot read DICOM: no image in it (truncated, or a DICOMDIR or report)", path)
    return header


def _image_headers(paths: Iterable[Path]) -> list[tuple[Path, Dataset]]:
    """(path, header) of the DICOM image files among ``paths``; a damaged DICOM file is an error."""
    out = []
    for p in paths:
        if p.name.startswith(".") or not p.is_file() or p.stat().st_size == 0:
            continue
        if suffix(p) not in _DICOM_SUFFIXES and not has_dicom_preamble(p):
            continue
        ds = _read_header(p)
        if "Rows" in ds and "SeriesInstanceUID" in ds:
            out.append((p, ds))
    return out


def _decode(path: Path) -> sitk.Image:
    with decoding(path, "DICOM"):
        return sitk.ReadImage(str(path))


def _array(img: sitk.Image) -> np.ndarray:
    """``(frames, Y, X, C)`` pixels of a decoded file; gray as float32."""
    array = sitk.GetArrayFromImage(img)
    if img.GetNumberOfComponentsPerPixel() == 1:
        array = array.astype(np.float32)[..., None]
    return array if img.GetDimension() == 3 else array[None]


def _slice_geometry(
    series: DicomSeries,
) -> tuple[list[int], float, tuple[float, ...], tuple[float, ...], bool]:
    """(slice order, slice spacing, origin, direction, irregular spacing) of a series.

    Without ImagePositionPatient/ImageOrientationPatient the order is InstanceNumber's, the
    spacing SliceThickness (or 1) and the geometry identity.
    """
    headers = series.headers
    if len({(int(h.Rows), int(h.Columns)) for h in headers}) > 1:
        raise TumorscopeError("slices of the series differ in size", series.folder)
    first = headers[0]
    fallback_dz = float(first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0)
    if not all("ImagePositionPatient" in h and "ImageOrientationPatient" in h for h in headers):
        order = sorted(range(len(headers)), key=lambda i: int(headers[i].get("InstanceNumber") or i))
        return order, fallback_dz, (0.0, 0.0, 0.0), tuple(np.eye(3).ravel().tolist()), False
    orientations = np.array([h.ImageOrientationPatient for h in headers], dtype=float)
    if np.abs(orientations - orientations[0]).max() > 1e-4:
        raise TumorscopeError(
            "slices of the series have different orientations (a localizer mixed in?)", series.folder
        )
    row, col = orientations[0, :3], orientations[0, 3:]
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)
    positions = np.array([h.ImagePositionPatient for h in headers], dtype=float)
    along = positions @ normal
    order = [int(i) for i in np.argsort(along, kind="stable")]
    steps = np.diff(along[order])
    if steps.size and steps.min() < 1e-3:
        raise TumorscopeError(
            f"{int((steps < 1e-3).sum())} slice(s) share a position with another (several acquisitions in one series?)",
            series.folder,
        )
    dz = float(np.median(steps)) if steps.size else fallback_dz
    irregular = bool(steps.size and np.abs(steps - dz).max() > 1e-3 + 0.01 * dz)
    direction = np.column_stack([row, col, normal])
    return order, dz, tuple(positions[order[0]].tolist()), tuple(direction.ravel().tolist()), irregular


def _pixel_spacing(header: Dataset) -> tuple[float, float]:
    """(row spacing, column spacing) = (dy, dx) in mm, 1.0 when the file gives none."""
    spacing = header.get("PixelSpacing") or header.get("ImagerPixelSpacing") or (1.0, 1.0)
    return float(spacing[0]), float(spacing[1])


def _fields(header: Dataset, keywords: Iterable[str]) -> dict[str, Any]:
    """Header values as plain Python (str, int, float, lists of them); absent keywords left out."""
    return {k: _plain(header.get(k)) for k in keywords if header.get(k) is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return [_plain(v) for v in value]
    if isinstance(value, int):  # pydicom's IS
        return int(value)
    if isinstance(value, float):  # pydicom's DSfloat
        return float(value)
    return str(value)
