"""Bounded decompressors for TIFF strips and tiles.

Without the optional ``imagecodecs`` package tifffile inflates a Deflate/LZMA strip with
``zlib.decompress``, which has no size limit: a 3 MB strip of zeros becomes gigabytes even when the
page is small. These replacements stop at the size tifffile asks for (its ``out`` argument), or at
``TUMORSCOPE_MAX_BYTES`` when it asks for none.
"""

from __future__ import annotations

import lzma
import zlib
from typing import Any

import numpy as np
import tifffile

from tumorscope.limits import current_limits

_DEFLATE = (8, 32946, 50013)
_LZMA = 34925


def _wanted(out: Any) -> int:
    """How many bytes the caller needs: an int, or an output buffer's size, else the byte limit."""
    if isinstance(out, int) and out > 0:
        return out
    if isinstance(out, np.ndarray | bytearray | memoryview):
        return int(np.asarray(out).nbytes)
    return current_limits().max_bytes


def _finish(data: bytes, wanted: int, out: Any) -> Any:
    if isinstance(out, np.ndarray):
        flat = out.reshape(-1).view(np.uint8)
        flat[: len(data)] = np.frombuffer(data, np.uint8)
        return out
    if out is None and len(data) >= wanted:
        raise ValueError(f"compressed strip inflates past the limit of {wanted} bytes")
    return data


def zlib_decode(data: bytes, /, *, out: Any = None) -> Any:
    """Inflate Deflate data, at most the bytes the caller needs."""
    wanted = _wanted(out)
    return _finish(zlib.decompressobj().decompress(bytes(data), wanted), wanted, out)


def lzma_decode(data: bytes, /, *, out: Any = None) -> Any:
    """Decompress LZMA data, at most the bytes the caller needs."""
    wanted = _wanted(out)
    return _finish(lzma.LZMADecompressor().decompress(bytes(data), wanted), wanted, out)


def install() -> bool:
    """Put the bounded decoders into tifffile's table (unless imagecodecs provides bounded ones)."""
    try:
        import imagecodecs  # noqa: F401
    except ImportError:
        pass
    else:
        return False
    try:
        codecs = tifffile.TIFF.DECOMPRESSORS._codecs  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - a tifffile without the table; limits still apply per page
        return False
    for key in _DEFLATE:
        codecs[key] = zlib_decode
    codecs[_LZMA] = lzma_decode
    return True
