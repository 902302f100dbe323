"""What a path holds, checked before any decoder runs, and how decoder failures are reported."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tumorscope.errors import TumorscopeError

DICOM_FOLDER = "dicom_folder"
DICOM = "dicom"
NIFTI = "nifti"
TIFF = "tiff"
PILLOW = "pillow"

_BY_SUFFIX = {
    ".nii": NIFTI,
    ".nii.gz": NIFTI,
    ".tif": TIFF,
    ".tiff": TIFF,
    ".png": PILLOW,
    ".jpg": PILLOW,
    ".jpeg": PILLOW,
    ".bmp": PILLOW,
    ".dcm": DICOM,
    ".dicom": DICOM,
    ".ima": DICOM,
}
SUPPORTED = "a DICOM file or folder, NIfTI (.nii, .nii.gz), PNG, JPEG, TIFF or BMP"


def suffix(path: str | Path) -> str:
    """The lower-case extension, with ``.nii.gz`` kept whole."""
    name = Path(path).name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else Path(name).suffix


def check_file(path: str | Path) -> Path:
    """``path`` as a Path if it is a non-empty file; TumorscopeError otherwise."""
    p = Path(path)
    if not p.exists():
        raise TumorscopeError("no such file", p)
    if p.is_dir():
        raise TumorscopeError("is a folder, expected a file", p)
    if p.stat().st_size == 0:
        raise TumorscopeError("file is empty", p)
    return p


def has_dicom_preamble(path: Path) -> bool:
    """True when the file carries the DICOM Part 10 marker ``DICM`` at byte 128."""
    with open(path, "rb") as f:
        head = f.read(132)
    return head[128:132] == b"DICM"


def image_format(path: str | Path) -> str:
    """One of DICOM_FOLDER, DICOM, NIFTI, TIFF, PILLOW for an existing path; TumorscopeError otherwise.

    Files are recognised by extension; a file with another (or no) extension is read as DICOM
    when it has the DICOM marker.
    """
    p = Path(path)
    if p.is_dir():
        return DICOM_FOLDER
    p = check_file(p)
    fmt = _BY_SUFFIX.get(suffix(p))
    if fmt is None and has_dicom_preamble(p):
        fmt = DICOM
    if fmt is None:
        raise TumorscopeError(
            f"unsupported format {suffix(p) or '(no extension)'!r}: expected {SUPPORTED}", p
        )
    return fmt


def one_line(exc: BaseException, limit: int = 240) -> str:
    """An exception's message on one line (library messages span many), shortened to ``limit``.

    SimpleITK's source-location prefix (``Exception thrown in ... sitk::ERROR:``) is dropped.
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.rpartition("sitk::ERROR: ")[2]
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def decoding(path: str | Path, kind: str) -> Iterator[None]:
    """Turn any decoder failure inside the block into ``TumorscopeError("cannot read <kind>: <reason>")``.

    Decoders raise many exception types on damaged files (OSError, ValueError, SyntaxError,
    RuntimeError, struct.error, zlib.error...), so everything but MemoryError is converted.
    """
    try:
        yield
    except (TumorscopeError, MemoryError):
        raise
    except Exception as exc:
        raise TumorscopeError(f"cannot read {kind}: {one_line(exc)}", path) from exc
