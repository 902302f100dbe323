"""What a path holds, checked before any decoder runs, and how decoder failures are reported."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tumorscope.errors import TumorscopeError, display_path
from tumorscope.limits import check_file_size

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


def os_problem(exc: OSError) -> str:
    """An OSError as a short problem text (``File name too long``), without the path it repeats."""
    return exc.strerror or one_line(exc)


def check_file(path: str | Path) -> Path:
    """``path`` as a Path if it is a non-empty file within the file-size limit; TumorscopeError otherwise."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise TumorscopeError("no such file", p) from None
    except OSError as exc:  # ENAMETOOLONG, ELOOP, EACCES...
        raise TumorscopeError(f"cannot open: {os_problem(exc)}", p) from exc
    if p.is_dir():
        raise TumorscopeError("is a folder, expected a file", p)
    if st.st_size == 0:
        raise TumorscopeError("file is empty", p)
    check_file_size(st.st_size, p)
    return p


def has_dicom_preamble(path: Path) -> bool:
    """True when the file carries the DICOM Part 10 marker ``DICM`` at byte 128."""
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError as exc:
        raise TumorscopeError(f"cannot open: {os_problem(exc)}", path) from exc
    return head[128:132] == b"DICM"


def image_format(path: str | Path) -> str:
    """One of DICOM_FOLDER, DICOM, NIFTI, TIFF, PILLOW for an existing path; TumorscopeError otherwise.

    Files are recognised by extension; a file with another (or no) extension is read as DICOM
    when it has the DICOM marker.
    """
    p = Path(path)
    try:
        if p.is_dir():
            return DICOM_FOLDER
    except OSError as exc:
        raise TumorscopeError(f"cannot open: {os_problem(exc)}", p) from exc
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
    text = display_path(text.rpartition("sitk::ERROR: ")[2])
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def decoding(path: str | Path, kind: str) -> Iterator[None]:
    """Turn any decoder failure inside the block into ``TumorscopeError("cannot read <kind>: <reason>")``.

    Decoders raise many exception types on damaged files (OSError, ValueError, SyntaxError,
    RuntimeError, struct.error, zlib.error, IndexError...), so everything is converted; a MemoryError
    (sizes are checked against the limits first, so it means a header the checks could not see
    through) becomes "too large to decode".
    """
    try:
        yield
    except TumorscopeError:
        raise
    except MemoryError as exc:
        raise TumorscopeError(f"cannot read {kind}: too large to decode in the memory available", path) from exc
    except RecursionError as exc:
        raise TumorscopeError(f"cannot read {kind}: structure nested too deeply", path) from exc
    except Exception as exc:
        raise TumorscopeError(f"cannot read {kind}: {one_line(exc)}", path) from exc


@contextlib.contextmanager
def native_path(path: Path) -> Iterator[str]:
    """A path string any C++ library can take for ``path``.

    SimpleITK aborts the whole process (``std::logic_error``) on a str that is not valid UTF-8, which
    is how Python spells a non-UTF-8 file name; such a file is reached through a symlink with a
    plain name in a private temporary folder instead.
    """
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        yield text
        return
    with tempfile.TemporaryDirectory(prefix="tumorscope-") as tmp:
        link = os.path.join(tmp, "input" + suffix(os.fsencode(path).decode("utf-8", "replace")))
        os.symlink(os.path.abspath(path), link)
        yield link
