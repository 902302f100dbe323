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
from pydicom.dataset import Dataset

from tumorscope.errors import TumorscopeError
from tumorscope.io.checks import check_image
from tumorscope.io.dicom_header import (
    DicomInfo,
    check_decoded,
    check_pixel_bytes,
    has_image,
    header_text,
    image_info,
    read_header,
)
from tumorscope.io.formats import check_file, decoding, has_dicom_preamble, native_path, os_problem, suffix
from tumorscope.io.image import Image
from tumorscope.io.itk import sitk
from tumorscope.limits import check_declared_size

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
    infos: tuple[DicomInfo, ...]

    @property
    def description(self) -> str:
        return header_text(self.headers[0], "SeriesDescription", self.files[0]) or ""

    @property
    def folder(self) -> Path:
        return Path(os.path.commonpath([f.parent for f in self.files]))

    def describe(self, root: Path) -> str:
        """One line: UID, description, slice count, modality and the folder relative to ``root``."""
        where = os.path.relpath(self.folder, root)
        modality = header_text(self.headers[0], "Modality", self.files[0]) or ""
        return f"{self.uid} {self.description!r} ({len(self.files)} {modality} slices in {where!r})"


def find_series(folder: str | Path) -> list[DicomSeries]:
    """The DICOM image series in ``folder`` or, when it holds none, in its subfolders at any depth.

    Files count as DICOM when they carry the DICOM marker or a .dcm/.dicom/.ima extension;
    other files (CSV, XML, LICENSE...) and DICOM objects without pixels (DICOMDIR) are ignored.
    """
    root = Path(folder)
    try:
        if not root.is_dir():
            raise TumorscopeError("no such folder", root)
        found = _image_headers(sorted(p for p in root.iterdir() if p.is_file()))
        if not found:
            nested = (Path(d) / n for d, _dirs, names in sorted(os.walk(root)) for n in sorted(names))
            found = _image_headers(nested)
    except OSError as exc:
        raise TumorscopeError(f"cannot list: {os_problem(exc)}", root) from exc
    groups: dict[str, list[tuple[Path, Dataset, DicomInfo]]] = defaultdict(list)
    for path, ds, info in found:
        groups[str(header_text(ds, "SeriesInstanceUID", path))].append((path, ds, info))
    series = [
        DicomSeries(uid, tuple(g[0] for g in group), tuple(g[1] for g in group), tuple(g[2] for g in group))
        for uid, group in groups.items()
    ]
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
    if len(series.files) == 1 and series.infos[0].frames > 1:
        return read_dicom_file(series.files[0])
    order, spacing_z, origin, direction, irregular = _slice_geometry(series)
    files = [series.files[i] for i in order]
    info = series.infos[order[0]]
    check_declared_size(
        (len(files), info.rows, info.columns, info.samples), 4 if info.samples == 1 else info.bits / 8,
        series.folder, "DICOM series",
    )
    arrays = [_pixels(f, series.headers[i], series.infos[i]) for f, i in zip(files, order)]
    if irregular:
        warnings.warn(f"{series.folder}: slice spacing is irregular (missing slices?)", stacklevel=2)
    dy, dx = info.spacing
    with decoding(files[0], "DICOM"):
        identifiers = _fields(series.headers[order[0]], _SERIES_FIELDS)
    sop_uids = [header_text(series.headers[i], "SOPInstanceUID", series.files[i]) or "" for i in order]
    image = Image(
        array=np.concatenate(arrays),
        spacing=(dx, dy, spacing_z),
        origin=origin,
        direction=direction,
        metadata={
            **identifiers,
            "n_slices": len(files),
            "files": [str(f) for f in files],
            "sop_instance_uids": sop_uids,
            "irregular_slice_spacing": irregular,
        },
        path=series.folder,
    )
    return check_image(image)


def read_dicom_file(path: str | Path) -> Image:
    """One DICOM file: a slice ``(Y, X, C)`` (C = 3 for RGB) or, for a multi-frame file, a volume.

    A slice gets its pixel spacing and identity in-plane geometry; its 3-D position and
    orientation are in ``metadata`` (ImagePositionPatient, ImageOrientationPatient).
    """
    p = check_file(path)
    header = _read_header(p)
    info = image_info(header, p)
    check_pixel_bytes(header, info, p)
    img = _decode(p)
    array = _array(img, p)
    check_decoded(array, info, p)
    with decoding(p, "DICOM"):
        metadata = _fields(header, _FILE_FIELDS)
    if array.shape[0] > 1:
        return check_image(Image(array, img.GetSpacing(), img.GetOrigin(), img.GetDirection(), metadata, p))
    dy, dx = info.spacing
    return check_image(Image.from_array(array[0], spacing=(dx, dy), metadata=metadata, path=p))


def probe_dicom(path: str | Path, series_uid: str | None = None) -> dict[str, Any]:
    """Shape and dtype ``read_dicom_file``/``read_dicom_series`` would return, from headers only."""
    p = Path(path)
    if p.is_dir():
        series = select_series(p, series_uid)
        _check_consistent(series)
        headers, infos, n = series.headers, series.infos, len(series.files)
    else:
        file = check_file(p)
        header = _read_header(file)
        headers, infos, n = (header,), (image_info(header, file),), 1
    first, info = headers[0], infos[0]
    plane = (info.rows, info.columns, info.samples)
    depth = n * info.frames if (p.is_dir() or info.frames > 1) else 0
    dtype = "float32" if info.samples == 1 else ("uint8" if info.bits == 8 else "uint16")
    with decoding(p, "DICOM"):
        mode = str(first.get("PhotometricInterpretation", ""))
    return {"shape": (depth, *plane) if depth else plane, "dtype": dtype, "mode": mode, "format": "DICOM"}


def _read_header(path: Path) -> Dataset:
    return read_header(path)


def _image_headers(paths: Iterable[Path]) -> list[tuple[Path, Dataset, DicomInfo]]:
    """(path, header, checked values) of the DICOM image files among ``paths``; a damaged one is an error."""
    out = []
    for p in paths:
        if p.name.startswith(".") or not p.is_file() or p.stat().st_size == 0:
            continue
        if suffix(p) not in _DICOM_SUFFIXES and not has_dicom_preamble(p):
            continue
        ds = _read_header(p)
        if has_image(ds) and header_text(ds, "SeriesInstanceUID", p):
            out.append((p, ds, image_info(ds, p)))
    return out


def _pixels(path: Path, header: Dataset, info: DicomInfo) -> np.ndarray:
    """``(frames, Y, X, C)`` pixels of one file of a series, after its stored size is checked."""
    check_pixel_bytes(header, info, path)
    array = _array(_decode(path), path)
    check_decoded(array, info, path)
    return array


def _decode(path: Path) -> sitk.Image:
    with decoding(path, "DICOM"), native_path(path) as name:
        return sitk.ReadImage(name)


def _array(img: sitk.Image, path: Path) -> np.ndarray:
    """``(frames, Y, X, C)`` pixels of a decoded file; gray as float32."""
    with decoding(path, "DICOM"):
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
    infos = series.infos
    _check_consistent(series)
    fallback_dz = _fallback_dz(series)
    if not all(i.position is not None and i.orientation is not None for i in infos):
        numbers = [i.instance if i.instance is not None else k for k, i in enumerate(infos)]
        order = sorted(range(len(infos)), key=numbers.__getitem__)
        return order, fallback_dz, (0.0, 0.0, 0.0), tuple(np.eye(3).ravel().tolist()), False
    orientations = np.array([i.orientation for i in infos], dtype=float)
    if np.abs(orientations - orientations[0]).max() > 1e-4:
        raise TumorscopeError(
            "slices of the series have different orientations (a localizer mixed in?)", series.folder
        )
    row, col = orientations[0, :3], orientations[0, 3:]
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)
    positions = np.array([i.position for i in infos], dtype=float)
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


def _check_consistent(series: DicomSeries) -> None:
    """Every file of a series must have the first file's size, samples, bits and pixel spacing."""
    first = series.infos[0]
    for path, info in zip(series.files, series.infos):
        for what, a, b in (
            ("size (rows x columns)", (info.rows, info.columns), (first.rows, first.columns)),
            ("frame count", info.frames, first.frames),
            ("samples per pixel", info.samples, first.samples),
            ("bits allocated", info.bits, first.bits),
        ):
            if a != b:
                raise TumorscopeError(
                    f"{what} {a} differs from {b} of {series.files[0].name} in the same series", path
                )
        if not np.allclose(info.spacing, first.spacing, rtol=1e-3, atol=1e-4):
            raise TumorscopeError(
                f"pixel spacing {info.spacing} differs from {first.spacing} of {series.files[0].name} in the same series",
                path,
            )


def _fallback_dz(series: DicomSeries) -> float:
    """Slice spacing when positions are missing: SpacingBetweenSlices, else SliceThickness, else 1."""
    first, path = series.headers[0], series.files[0]
    with decoding(path, "DICOM"):
        value = first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0
        dz = float(value)
    if not (np.isfinite(dz) and dz > 0):
        return 1.0
    return dz


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
