"""Seed files of every format, raw DICOM/NIfTI field surgery, and seeded mutations for the fuzz tests.

Everything is generated here (no downloaded corpus): small clean seeds (a DICOM file, an RGB DICOM,
a DICOM series folder, NIfTI .nii/.nii.gz, PNG/JPEG/BMP, plain/deflate/palette/ImageJ TIFF) and
mutations of their bytes. The same seed and case index always give the same file.
"""

from __future__ import annotations

import gzip
import os
import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import tifffile
from PIL import Image as PILImage

from tests.io.conftest import write_dicom_slice, write_series

SEED_KINDS = (
    "dicom", "dicom_rgb", "series", "nii", "nii_gz", "png", "jpg", "bmp", "tif", "tif_deflate", "tif_palette",
    "tif_imagej",
)


def _pixels(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, size=shape).astype(np.uint8)


def write_seed(kind: str, folder: Path) -> Path:
    """A small clean file (or, for ``series``, folder) of ``kind`` in ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "dicom":
        return write_dicom_slice(folder / "seed.dcm", _pixels((16, 12)).astype(np.uint16) * 3, series_uid="1.2.3.4")
    if kind == "dicom_rgb":
        return write_dicom_slice(folder / "seed.dcm", _pixels((10, 8, 3)), series_uid="1.2.3.5")
    if kind == "series":
        write_series(folder / "series", n=3, shape=(8, 6))
        return folder / "series"
    if kind in ("nii", "nii_gz"):
        affine = np.diag([0.9, 0.8, 2.5, 1.0])
        path = folder / ("seed.nii" if kind == "nii" else "seed.nii.gz")
        nib.save(nib.Nifti1Image(_pixels((12, 10, 4)).astype(np.int16), affine), path)
        return path
    if kind in ("png", "jpg", "bmp"):
        path = folder / f"seed.{kind}"
        PILImage.fromarray(_pixels((14, 18, 3))).save(path)
        return path
    path = folder / "seed.tif"
    if kind == "tif":
        tifffile.imwrite(path, _pixels((3, 16, 16)), photometric="minisblack")
    elif kind == "tif_deflate":
        tifffile.imwrite(path, _pixels((16, 16, 3)), compression="zlib", photometric="rgb")
    elif kind == "tif_palette":
        cmap = (np.arange(3 * 256, dtype=np.uint16).reshape(3, 256) * 85) % 65535
        tifffile.imwrite(path, _pixels((16, 16)), photometric="palette", colormap=cmap)
    elif kind == "tif_imagej":
        tifffile.imwrite(path, _pixels((4, 16, 16)), imagej=True, resolution=(2.0, 2.0),
                         metadata={"unit": "mm", "spacing": 1.5})
    else:
        raise ValueError(kind)
    return path


# ---- raw field surgery -------------------------------------------------------------------------


def set_dicom_raw(path: Path, keyword: str, value: bytes, vr: bytes | None = None) -> None:
    """Overwrite one element's stored bytes (Explicit VR Little Endian, short-length VRs) in place.

    The value is written as given (padded to even length), bypassing every pydicom check, so
    ``PixelSpacing = b"abc"`` lands in the file exactly as a damaged file would hold it.
    """
    tag = pydicom.datadict.tag_for_keyword(keyword)
    assert tag is not None, keyword
    data = path.read_bytes()
    key = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    start = data.find(key, 132 + 12)
    while start >= 0 and not data[start + 4 : start + 6].isalpha():
        start = data.find(key, start + 1)
    assert start >= 0, f"{keyword} not in {path}"
    old_vr = data[start + 4 : start + 6]
    (length,) = struct.unpack("<H", data[start + 6 : start + 8])
    if len(value) % 2:
        value += b" "
    element = key + (vr or old_vr) + struct.pack("<H", len(value)) + value
    path.write_bytes(data[:start] + element + data[start + 8 + length :])


def set_dicom(path: Path, **values: object) -> None:
    """Set header values through pydicom (well-formed values; for malformed ones use ``set_dicom_raw``)."""
    ds = pydicom.dcmread(path)
    for k, v in values.items():
        if v is None:
            delattr(ds, k)
        else:
            setattr(ds, k, v)
    ds.save_as(path)


def nifti_with(path: Path, data: np.ndarray, affine: np.ndarray | None = None, **header: object) -> Path:
    """A NIfTI file of ``data`` with header fields overwritten after nibabel's own checks."""
    img = nib.Nifti1Image(data, np.eye(4) if affine is None else affine)
    raw = bytearray(img.to_bytes())
    hdr = nib.Nifti1Header.from_fileobj(__import__("io").BytesIO(bytes(raw[:348])), check=False)
    for k, v in header.items():
        hdr[k] = v
    raw[:348] = hdr.binaryblock
    blob = bytes(raw)
    path.write_bytes(gzip.compress(blob, 1) if path.name.endswith(".gz") else blob)
    return path


def nifti_claiming(path: Path, shape: tuple[int, ...], dtype: type = np.float32, payload: int = 0) -> Path:
    """A NIfTI header declaring ``shape`` followed by only ``payload`` bytes (zeros): a size-bomb claim."""
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(dtype)
    hdr.set_data_shape(shape)
    hdr["vox_offset"] = 352
    hdr.set_sform(np.eye(4), code=1)
    blob = hdr.binaryblock + b"\0" * 4 + b"\0" * payload
    path.write_bytes(gzip.compress(blob, 9) if path.name.endswith(".gz") else blob)
    return path


def gz_bomb(path: Path, shape: tuple[int, ...], dtype: type = np.uint8) -> Path:
    """A ``.nii.gz`` whose stream really inflates to the declared (large) size, written in chunks."""
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(dtype)
    hdr.set_data_shape(shape)
    hdr["vox_offset"] = 352
    hdr.set_sform(np.eye(4), code=1)
    total = int(np.prod(shape)) * np.dtype(dtype).itemsize
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(comp.compress(hdr.binaryblock + b"\0" * 4))
        chunk = b"\0" * (1 << 22)
        for _ in range(total // len(chunk)):
            f.write(comp.compress(chunk))
        f.write(comp.compress(b"\0" * (total % len(chunk))))
        f.write(comp.flush())
    return path


# ---- byte mutations ------------------------------------------------------------------------------

_EXTREMES = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, max(1, len(data)))]


def bit_flips(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def header_field(data: bytes, rng: random.Random) -> bytes:
    """An extreme 1/2/4-byte integer written at a random offset of the first 1 KB (where headers live)."""
    out = bytearray(data)
    width = rng.choice((1, 2, 4))
    value = rng.choice(_EXTREMES) & ((1 << (8 * width)) - 1)
    i = rng.randrange(0, max(1, min(len(out), 1024) - width))
    out[i : i + width] = value.to_bytes(width, rng.choice(("little", "big")))
    return bytes(out)


def chunk_shuffle(data: bytes, rng: random.Random) -> bytes:
    """A random slice duplicated or removed."""
    i = rng.randrange(len(data))
    j = min(len(data), i + rng.randint(1, 256))
    return data[:i] + data[i:j] * 2 + data[j:] if rng.random() < 0.5 else data[:i] + data[j:]


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncate": truncate,
    "bit_flips": bit_flips,
    "header_field": header_field,
    "chunk": chunk_shuffle,
}


def mutate_file(path: Path, rng: random.Random) -> str:
    """Mutate ``path`` in place (for a folder: one of its files); returns what was done."""
    if path.is_dir():
        target = rng.choice(sorted(p for p in path.rglob("*") if p.is_file()))
    else:
        target = path
    name = rng.choice(sorted(MUTATIONS))
    target.write_bytes(MUTATIONS[name](target.read_bytes(), rng))
    return f"{name} {target.name}"


def odd_name(rng: random.Random) -> bytes:
    """A file-name stem with bytes that are not UTF-8, control characters or spaces."""
    return rng.choice((b"caf\xe9", b"\xff\xfe", b"a\nb", b" lead", b"\xc3\x28", b"x" * 40 + b"\xe9"))


def rename_odd(path: Path, rng: random.Random) -> Path:
    """``path`` renamed to a stem with non-UTF-8 bytes (extension kept); returns the new path."""
    stem = odd_name(rng)
    ext = b".nii.gz" if path.name.endswith(".nii.gz") else os.fsencode(path.suffix)
    new = os.path.join(os.fsencode(path.parent), stem + ext)
    os.rename(os.fsencode(path), new)
    return Path(os.fsdecode(new))
