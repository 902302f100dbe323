"""NIfTI headers checked before any voxel is read or decompressed.

The 348 (NIfTI-1) or 540 (NIfTI-2) header bytes are parsed on their own; the declared shape and
data type are compared with the size limits and with the bytes the file holds, and the geometry
(sform, qform, pixdim) must be finite and non-degenerate. Only then are the voxels read: a
``.nii.gz`` is decompressed in chunks, never past what the header declares, so a small file that
inflates to gigabytes costs at most the (limited) declared size.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.io.checks import check_spacing
from tumorscope.io.formats import decoding, suffix
from tumorscope.limits import check_declared_size, current_limits, human

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])  # its own inverse: flip x and y
_CHUNK = 1 << 22
_HEADER_CLASSES = {348: nib.Nifti1Header, 540: nib.Nifti2Header}
_IMAGE_CLASSES: dict[int, Any] = {348: nib.Nifti1Image, 540: nib.Nifti2Image}
_MIN_DET = 1e-3


def _open(path: Path) -> Any:
    return gzip.open(path, "rb") if suffix(path) == ".nii.gz" else open(path, "rb")


def _header_size(block: bytes, path: Path) -> int:
    for order in ("little", "big"):
        size = int.from_bytes(block[:4], order)  # type: ignore[arg-type]
        if size in _HEADER_CLASSES:
            return size
    raise TumorscopeError("cannot read NIfTI: not a NIfTI file (header size is neither 348 nor 540)", path)


def checked_header(path: Path) -> Any:
    """The header of a NIfTI file after the size, offset and layout checks; TumorscopeError otherwise."""
    with decoding(path, "NIfTI"), _open(path) as f:
        block = f.read(540)
    size = _header_size(block, path)
    if len(block) < size:
        raise TumorscopeError(f"cannot read NIfTI: header truncated ({len(block)} of {size} bytes)", path)
    with decoding(path, "NIfTI"):
        header = _HEADER_CLASSES[size].from_fileobj(io.BytesIO(block[:size]), check=False)
        shape = tuple(int(d) for d in header.get_data_shape())
        dtype = np.dtype(header.get_data_dtype())
        offset = float(header.get_data_offset())
    if not shape:
        raise TumorscopeError("NIfTI header declares no dimensions", path)
    scaled_size = 8 if dtype == np.float64 else max(4, dtype.itemsize)
    check_declared_size(shape, scaled_size, path, "NIfTI image")
    if not (np.isfinite(offset) and 0 <= offset <= current_limits().max_bytes):
        raise TumorscopeError(f"NIfTI header declares a data offset of {offset:g} bytes", path)
    return header


def data_end(header: Any) -> int:
    """Byte position in the (decompressed) file where the declared voxel data ends."""
    count = int(np.prod([int(d) for d in header.get_data_shape()], dtype=np.int64))
    start = max(int(header.get_data_offset()), header.sizeof_hdr + 4)
    return start + count * np.dtype(header.get_data_dtype()).itemsize


def load_checked(path: Path, header: Any) -> Any:
    """The nibabel image of ``path`` (whose ``header`` passed ``checked_header``), voxels in memory.

    A ``.nii`` must hold the declared bytes; a ``.nii.gz`` is inflated chunk by chunk up to the
    declared end and no further.
    """
    end = data_end(header)
    if suffix(path) != ".nii.gz":
        present = path.stat().st_size
        if present < end:
            raise TumorscopeError(
                f"cannot read NIfTI: file holds {human(present)} but its header declares {human(end)} (truncated?)", path
            )
        with decoding(path, "NIfTI"):
            return nib.load(path, mmap=False)
    buffer = bytearray()
    with decoding(path, "NIfTI"), gzip.open(path, "rb") as f:
        while len(buffer) < end:
            chunk = f.read(min(_CHUNK, end - len(buffer)))
            if not chunk:
                break
            buffer += chunk
    if len(buffer) < end:
        raise TumorscopeError(
            f"cannot read NIfTI: decompressed data ends at {human(len(buffer))} but its header declares "
            f"{human(end)} (truncated?)",
            path,
        )
    with decoding(path, "NIfTI"):
        return _IMAGE_CLASSES[header.sizeof_hdr].from_bytes(bytes(buffer))


def _affines(header: Any) -> list[tuple[str, np.ndarray | None]]:
    """(name, affine or None when it cannot be computed) of the sform and qform whose code is set."""
    found: list[tuple[str, np.ndarray | None]] = []
    for name, code, getter in (("sform", "sform_code", header.get_sform), ("qform", "qform_code", header.get_qform)):
        if int(header[code]) > 0:
            try:
                found.append((name, np.asarray(getter(), dtype=float)))
            except Exception:  # noqa: BLE001 - nibabel refuses some quaternions/pixdims: degenerate
                found.append((name, None))
    return found


def _decompose(affine: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(spacing, direction, origin) in LPS of a usable affine, None for NaN, zero or parallel axes."""
    if affine is None or affine.shape != (4, 4) or not np.isfinite(affine).all():
        return None
    linear = _RAS_TO_LPS @ affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    if not (spacing > 0).all():
        return None
    direction = linear / spacing
    if abs(float(np.linalg.det(direction))) < _MIN_DET:
        return None
    return spacing, direction, _RAS_TO_LPS @ affine[:3, 3]


def itk_geometry(header: Any, sdim: int, path: Path) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """(spacing, origin, direction) in ITK/LPS convention from the sform, else qform, else pixdim.

    A set sform/qform that is NaN, zero or has parallel axes is skipped for the other; when none is
    usable it is a TumorscopeError. A 2-D image whose in-plane axes leave the plane gets identity
    in-plane orientation.
    """
    affines = _affines(header)
    parts = next((d for _, a in affines if (d := _decompose(a)) is not None), None)
    if parts is None and affines:
        names = " and ".join(n for n, _ in affines)
        raise TumorscopeError(f"NIfTI {names} orientation is degenerate (NaN, zero or parallel axes)", path)
    if parts is None:  # no orientation stored: pixdim spacing, ITK's default placement
        with decoding(path, "NIfTI"):
            zooms = [float(z) for z in header["pixdim"][1 : 1 + min(sdim, 3)]]
        spacing = np.asarray(check_spacing(zooms, path, "NIfTI pixdim"), float)
        spacing = np.pad(spacing, (0, 3 - spacing.size), constant_values=1.0)
        direction, origin = np.eye(3), np.zeros(3)
    else:
        spacing, direction, origin = parts
    sub = direction[:sdim, :sdim]
    if sdim == 2 and abs(float(np.linalg.det(sub))) < _MIN_DET:
        sub = np.eye(2)
    return (
        tuple(spacing[:sdim].tolist()),
        tuple(origin[:sdim].tolist()),
        tuple(sub.ravel().tolist()),
    )
