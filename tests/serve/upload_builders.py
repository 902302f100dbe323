"""Builders for the upload tests: real image bytes of every kind, zips (honest and hostile), a store call."""

from __future__ import annotations

import asyncio
import io
import stat
import struct
import zipfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from tumorscope.serve.uploads import StoredUpload, store_upload

PIXELS = (np.arange(16 * 24).reshape(16, 24) % 251).astype(np.uint8)


def raster_bytes(fmt: str) -> bytes:
    """A 16x24 gray image encoded by Pillow as ``fmt`` (PNG, JPEG, TIFF, BMP)."""
    buf = io.BytesIO()
    PILImage.fromarray(PIXELS).save(buf, format=fmt)
    return buf.getvalue()


def nifti_bytes(tmp: Path, gz: bool) -> bytes:
    import nibabel as nib

    path = tmp / ("vol.nii.gz" if gz else "vol.nii")
    nib.save(nib.Nifti1Image(np.arange(4 * 5 * 6, dtype=np.int16).reshape(6, 5, 4), np.eye(4)), path)
    return path.read_bytes()


def dicom_bytes(tmp: Path) -> bytes:
    from pydicom.uid import generate_uid

    from tests.io.conftest import write_dicom_slice

    return write_dicom_slice(tmp / "one.dcm", PIXELS.astype(np.uint16), series_uid=generate_uid()).read_bytes()


async def _aiter(data: bytes, piece: int = 64 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), piece):
        yield data[i : i + piece]


def store(uploads: Path, data: bytes, max_bytes: int = 64 * 1024**2) -> StoredUpload:
    """``store_upload`` of ``data`` sent in 64 KiB chunks, as a request stream sends it."""
    return asyncio.run(store_upload(_aiter(data), uploads, max_bytes))


def zip_bytes(members: Iterable[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def symlink_zip(name: str, target: str) -> bytes:
    """A zip whose one member is a Unix symlink ``name`` -> ``target``, as ``zip --symlinks`` writes it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)
    return buf.getvalue()


def patch_central(data: bytes, index: int = 0, **fields: int) -> bytes:
    """``data`` (a zip) with central directory entry ``index``'s ``flags``, ``crc``, ``compressed`` or
    ``size`` replaced (zipfile reads those from the central directory, not the local header)."""
    offsets = {"flags": (8, "<H"), "crc": (16, "<I"), "compressed": (20, "<I"), "size": (24, "<I")}
    at = zipfile.ZipFile(io.BytesIO(data)).start_dir
    for _ in range(index):
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        at += 46 + name_len + extra_len + comment_len
    assert data[at : at + 4] == b"PK\x01\x02"
    out = bytearray(data)
    for name, value in fields.items():
        offset, fmt = offsets[name]
        struct.pack_into(fmt, out, at + offset, value)
    return bytes(out)


def leftovers(folder: Path) -> list[Path]:
    """Everything under ``folder`` but the stored input (temporaries, partial extractions)."""
    return sorted(p for p in folder.rglob("*") if not p.name.startswith("input."))
