"""DICOM headers read and checked before any pixel is decoded.

Every value the readers use (sizes, spacing, position, orientation, instance number) is parsed
here, inside the error translation, so a malformed value (``PixelSpacing = abc``, five orientation
numbers, ``NumberOfFrames = abc``, an unknown VR) is a TumorscopeError naming the file and the tag.
The pixel data actually stored is compared with what Rows x Columns x frames x samples x bits
declare: a decoder given less reads uninitialised memory.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from tumorscope.errors import TumorscopeError
from tumorscope.io.checks import check_direction, check_spacing
from tumorscope.io.formats import decoding, one_line
from tumorscope.limits import check_declared_size

# Transfer syntaxes whose PixelData is stored raw (its length must match the declared size).
_NATIVE_SYNTAXES = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"})
_UNDEFINED_LENGTH = 0xFFFFFFFF
_DEFER = 4096  # elements longer than this are not loaded with the header
_HEADER_BYTES = 64 * 1024 * 1024  # a header (all but PixelData) longer than this is refused


@dataclass(frozen=True)
class DicomInfo:
    """The checked values of one DICOM image header."""

    rows: int
    columns: int
    frames: int
    samples: int
    bits: int
    spacing: tuple[float, float]  # (dy, dx) mm
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None  # 6 direction cosines
    instance: int | None


def read_header(path: Path) -> Dataset:
    """The header of a DICOM file, large values (PixelData) deferred; TumorscopeError on a damaged file.

    The file's first bytes are parsed from memory: an element whose (damaged) length claims
    gigabytes then reads what is there, where reading the file would first allocate the claim.
    """
    with decoding(path, "DICOM"):
        with open(path, "rb") as f:
            head = f.read(_HEADER_BYTES)
        return pydicom.dcmread(io.BytesIO(head), force=True, defer_size=_DEFER)


def has_image(header: Dataset) -> bool:
    return "Rows" in header


def image_info(header: Dataset, path: Path) -> DicomInfo:
    """Sizes and geometry of an image header, each checked; TumorscopeError naming the tag otherwise."""
    if not has_image(header):
        raise TumorscopeError("cannot read DICOM: no image in it (truncated, or a DICOMDIR or report)", path)
    rows, columns = header_int(header, "Rows", path), header_int(header, "Columns", path)
    frames = header_int(header, "NumberOfFrames", path, default=1)
    samples = header_int(header, "SamplesPerPixel", path, default=1)
    bits = header_int(header, "BitsAllocated", path, default=8 * samples)
    if samples not in (1, 3, 4):
        raise TumorscopeError(f"unsupported DICOM SamplesPerPixel {samples} (expected 1 or 3)", path)
    if bits not in (1, 8, 16, 32, 64):
        raise TumorscopeError(f"unsupported DICOM BitsAllocated {bits}", path)
    out_itemsize = 4 if samples == 1 else bits / 8  # gray is returned as float32
    check_declared_size((frames, rows, columns, samples), max(out_itemsize, bits / 8), path, "DICOM image")
    spacing_tag = "PixelSpacing" if "PixelSpacing" in header else "ImagerPixelSpacing"
    spacing = header_floats(header, spacing_tag, path, 2)
    if spacing is not None:
        check_spacing(spacing, path, spacing_tag)
    position = header_floats(header, "ImagePositionPatient", path, 3)
    orientation = header_floats(header, "ImageOrientationPatient", path, 6)
    if orientation is not None:
        _check_orientation(orientation, path)
    return DicomInfo(
        rows=rows,
        columns=columns,
        frames=frames,
        samples=samples,
        bits=bits,
        spacing=(spacing[0], spacing[1]) if spacing is not None else (1.0, 1.0),
        position=(position[0], position[1], position[2]) if position is not None else None,
        orientation=orientation,
        instance=header_int(header, "InstanceNumber", path, default=None, positive=False),
    )


def check_pixel_bytes(header: Dataset, info: DicomInfo, path: Path) -> None:
    """Refuse a file whose stored PixelData is shorter (or much longer) than the header declares.

    Only raw (native) transfer syntaxes can be checked this way; compressed pixels are checked
    after decoding (``check_decoded``).
    """
    try:
        element = header.get_item("PixelData", keep_deferred=True)
    except Exception as exc:  # noqa: BLE001 - a damaged element is the file's problem
        raise TumorscopeError(f"cannot read DICOM PixelData: {one_line(exc)}", path) from exc
    if element is None:
        if "FloatPixelData" in header or "DoubleFloatPixelData" in header:
            return
        raise TumorscopeError("cannot read DICOM: it has no PixelData", path)
    syntax = str(getattr(getattr(header, "file_meta", None), "TransferSyntaxUID", "") or "1.2.840.10008.1.2")
    length = getattr(element, "length", None)
    if syntax not in _NATIVE_SYNTAXES or length is None or length == _UNDEFINED_LENGTH:
        return
    value = getattr(element, "value", None)
    tell = getattr(element, "value_tell", None)
    if value is not None:
        present = len(value)
    elif tell is not None:
        present = min(int(length), max(0, path.stat().st_size - int(tell)))
    else:
        present = int(length)
    samples = info.samples
    if samples == 3 and "422" in str(_value(header, "PhotometricInterpretation", path) or ""):
        samples = 2  # YBR_FULL_422 stores two values per pixel (chroma halved horizontally)
    declared = math.ceil(info.rows * info.columns * info.frames * samples * info.bits / 8)
    dims = f"{info.rows} rows x {info.columns} columns x {info.frames} frame(s) x {info.samples} sample(s) x {info.bits} bits"
    if present < declared:
        raise TumorscopeError(
            f"cannot read DICOM: PixelData holds {present} bytes but {dims} declare {declared} "
            "(truncated file, or a header claiming more than is stored)",
            path,
        )
    if int(length) > declared + 1 + (declared % 2):
        raise TumorscopeError(
            f"cannot read DICOM: PixelData holds {int(length)} bytes but {dims} declare only {declared} "
            "(a header that does not describe the stored pixels)",
            path,
        )


def check_decoded(array: np.ndarray, info: DicomInfo, path: Path) -> None:
    """The decoder's ``(frames, Y, X, C)`` output must have the declared size."""
    expected = (info.frames, info.rows, info.columns)
    if tuple(array.shape[:3]) != expected:
        raise TumorscopeError(
            f"decoded DICOM pixels are {tuple(array.shape[:3])} (frames, rows, columns) but the header declares {expected}",
            path,
        )


def _check_orientation(orientation: tuple[float, ...], path: Path) -> None:
    row, col = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    normal = np.cross(row, col)
    try:
        check_direction(np.column_stack([row, col, normal]).ravel(), 3, path)
    except TumorscopeError as exc:
        raise TumorscopeError(f"ImageOrientationPatient {list(orientation)}: {exc.problem}", path) from None


def _value(header: Dataset, keyword: str, path: Path) -> Any:
    """A header value (None when absent or empty), malformed elements reported with their tag."""
    try:
        value = header.get(keyword)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on malformed values
        raise TumorscopeError(f"malformed DICOM {keyword}: {one_line(exc)}", path) from exc
    if value is None or (isinstance(value, str | bytes) and not value.strip()):
        return None
    return value


def header_text(header: Dataset, keyword: str, path: Path) -> str | None:
    """A header value as text (None when absent); a malformed element is a TumorscopeError naming it."""
    value = _value(header, keyword, path)
    return None if value is None else str(value).strip()


def header_int(header: Dataset, keyword: str, path: Path, default: Any = ..., positive: bool = True) -> Any:
    value = _value(header, keyword, path)
    if value is None:
        if default is ...:
            raise TumorscopeError(f"DICOM image without {keyword}", path)
        return default
    try:
        number = float(value if not isinstance(value, bytes) else value.decode("ascii"))
        result = int(number)
        ok = math.isfinite(number) and number == result
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        ok = False
    if not ok or (positive and result <= 0):
        raise TumorscopeError(f"malformed DICOM {keyword} {_show(value)}: expected {'a positive' if positive else 'an'} integer", path)
    return result


def header_floats(header: Dataset, keyword: str, path: Path, count: int) -> tuple[float, ...] | None:
    value = _value(header, keyword, path)
    if value is None:
        return None
    items = list(value) if isinstance(value, list | tuple | pydicom.multival.MultiValue) else [value]
    try:
        numbers = tuple(float(v) for v in items)
        ok = len(numbers) == count and all(math.isfinite(v) for v in numbers)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise TumorscopeError(f"malformed DICOM {keyword} {_show(value)}: expected {count} finite numbers", path)
    return numbers


def _show(value: Any) -> str:
    text = repr(list(value) if isinstance(value, pydicom.multival.MultiValue) else value)
    return text if len(text) <= 80 else text[:77] + "..."
