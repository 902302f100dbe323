"""Size limits on what a file may ask us to allocate, shared by the readers and the upload service.

A small file can declare a huge image (a 128 KB header claiming 2000x2000x600 voxels, a 4 MB
``.nii.gz`` of zeros inflating to gigabytes). Readers compare what a header declares with these
limits *before* decompressing or allocating anything.

The defaults fit a 24 GiB, 2-core machine running one prediction at a time (the pipeline keeps a
few float32 copies of a volume). Each can be changed with an environment variable, read on every
call so a service or a test can set it at run time:

``TUMORSCOPE_MAX_VOXELS``     pixels or voxels of one image, channels included (default 268435456 = 2**28,
                              e.g. 512 x 512 x 1024)
``TUMORSCOPE_MAX_BYTES``      bytes one image may decode or decompress to (default 2 GiB)
``TUMORSCOPE_MAX_FILE_BYTES`` bytes of one input file on disk or in an upload (default 2 GiB)

Values accept a plain integer or a K/M/G/T suffix (powers of 1024), e.g. ``512M``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tumorscope.errors import TumorscopeError

_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
DEFAULT_MAX_VOXELS = 2**28
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MAX_FILE_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Limits:
    """The limits in force: elements and decoded bytes of one image, bytes of one input file."""

    max_voxels: int = DEFAULT_MAX_VOXELS
    max_bytes: int = DEFAULT_MAX_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


def parse_size(text: str, name: str) -> int:
    """``"512M"`` -> 536870912; TumorscopeError naming the variable for anything but a positive size."""
    raw = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = raw[-1:] if raw[-1:] in _SUFFIXES and raw[-1:] else ""
    number = raw[: len(raw) - len(unit)].strip()
    try:
        value = int(float(number) * _SUFFIXES[unit])
    except (ValueError, OverflowError):
        value = 0
    if value <= 0:
        raise TumorscopeError(f"environment variable {name}={text!r} is not a positive size (e.g. 268435456, 512M, 2G)")
    return value


def _env(name: str, default: int) -> int:
    text = os.environ.get(name)
    return default if text is None or not text.strip() else parse_size(text, name)


def current_limits() -> Limits:
    """The limits from the environment (``TUMORSCOPE_MAX_*``), defaults where unset."""
    return Limits(
        max_voxels=_env("TUMORSCOPE_MAX_VOXELS", DEFAULT_MAX_VOXELS),
        max_bytes=_env("TUMORSCOPE_MAX_BYTES", DEFAULT_MAX_BYTES),
        max_file_bytes=_env("TUMORSCOPE_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES),
    )


def human(n: float) -> str:
    """A byte count as people read it: ``2.0 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_declared_size(shape: tuple[int, ...], itemsize: float, path: str | Path | None, what: str = "image") -> None:
    """Refuse a declared ``shape`` (channels included) of ``itemsize``-byte elements over the limits.

    Also refuses a zero-length or negative axis. Called with header values, before any allocation.
    """
    dims = [int(s) for s in shape]
    if not dims or min(dims) <= 0:
        raise TumorscopeError(f"{what} declares size {_fmt(dims)}: an axis of length 0 (empty image)", path)
    limits = current_limits()
    count = 1
    for d in dims:
        count *= d
    if count > limits.max_voxels:
        raise TumorscopeError(
            f"{what} declares {_fmt(dims)} = {count} pixels/voxels, over the limit of {limits.max_voxels} "
            "(raise TUMORSCOPE_MAX_VOXELS to allow it)",
            path,
        )
    nbytes = count * itemsize
    if nbytes > limits.max_bytes:
        raise TumorscopeError(
            f"{what} declares {_fmt(dims)} pixels needing {human(nbytes)}, over the limit of "
            f"{human(limits.max_bytes)} (raise TUMORSCOPE_MAX_BYTES to allow it)",
            path,
        )


def check_file_size(size: int, path: str | Path | None) -> None:
    """Refuse an input file larger than ``max_file_bytes``."""
    limit = current_limits().max_file_bytes
    if size > limit:
        raise TumorscopeError(
            f"file is {human(size)}, over the limit of {human(limit)} (raise TUMORSCOPE_MAX_FILE_BYTES to allow it)",
            path,
        )


def _fmt(dims: list[int]) -> str:
    return "x".join(str(d) for d in dims)
