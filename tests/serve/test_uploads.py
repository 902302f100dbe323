"""Uploads: kinds sniffed from the bytes, streamed to <sha256>/input.<ext> under the limit, read as 400s."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from starlette.datastructures import UploadFile

from tests.serve.upload_builders import dicom_bytes, nifti_bytes, raster_bytes, store
from tumorscope.serve.errors import BadRequest, TooLarge, UnsupportedMedia
from tumorscope.serve.uploads import read_upload, sniff, store_upload

KINDS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "bmp": "BMP"}
EXT = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "bmp": ".bmp"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_raster_kinds_are_sniffed_stored_and_read(tmp_path: Path, kind: str) -> None:
    data = raster_bytes(KINDS[kind])
    up = store(tmp_path / "uploads", data)
    assert (up.kind, up.size, up.sha256) == (kind, len(data), hashlib.sha256(data).hexdigest())
    assert up.path == tmp_path / "uploads" / up.sha256 / f"input{EXT[kind]}"
    assert up.path.read_bytes() == data
    got = read_upload(up)
    assert got.family == "slices" and got.slices.shape[:3] == (1, 16, 24)


@pytest.mark.parametrize("gz", [False, True], ids=["nii", "nii.gz"])
def test_nifti_is_sniffed_plain_and_gzipped(tmp_path: Path, gz: bool) -> None:
    up = store(tmp_path / "uploads", nifti_bytes(tmp_path, gz))
    assert up.kind == ("nifti_gz" if gz else "nifti")
    assert up.path.name == ("input.nii.gz" if gz else "input.nii")
    got = read_upload(up)
    assert got.family == "volume" and got.slices.shape[:3] == (4, 5, 6)


def test_dicom_file_is_sniffed_by_its_marker(tmp_path: Path) -> None:
    up = store(tmp_path / "uploads", dicom_bytes(tmp_path))
    assert (up.kind, up.path.name) == ("dicom", "input.dcm")
    assert read_upload(up).slices.shape[1:3] == (16, 24)


@pytest.mark.shared_data
def test_real_lgg_slice_is_a_tiff(tmp_path: Path, lgg_dir: Path) -> None:
    tif = next(p for p in sorted((lgg_dir / "kaggle_3m").glob("*/*.tif")) if not p.stem.endswith("_mask"))
    up = store(tmp_path / "uploads", tif.read_bytes())
    assert up.kind == "tiff"
    assert read_upload(up).slices.shape == (1, 256, 256, 3)


def test_the_name_does_not_decide(tmp_path: Path) -> None:
    data = raster_bytes("PNG")
    named = tmp_path / "scan.nii"
    named.write_bytes(data)
    assert sniff(data, named) == "png"
    assert store(tmp_path / "uploads", data).path.name == "input.png"


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n" + b"\0" * 400, "a PDF document"),
        (b"patient,label\nTCGA_CS_4941,tumor\n" * 20, "text"),
        (gzip.compress(b"just some text\n" * 100), "gzip-compressed text"),
        (b"GIF89a" + b"\0" * 100, "a GIF image"),
        (bytes(range(256)) * 4, "data starting 00 01 02"),
    ],
    ids=["pdf", "text", "gzip-text", "gif", "binary"],
)
def test_unsupported_bytes_are_415_saying_what_was_found(tmp_path: Path, data: bytes, found: str) -> None:
    with pytest.raises(UnsupportedMedia) as err:
        store(tmp_path / "uploads", data)
    assert err.value.status == 415
    assert f"the upload is {found}" in err.value.message and "NIfTI" in err.value.message
    assert list((tmp_path / "uploads").iterdir()) == [tmp_path / "uploads" / ".incoming"]
    assert not any((tmp_path / "uploads" / ".incoming").iterdir())


def test_empty_upload_and_empty_zip_are_400(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="the upload is empty"):
        store(tmp_path / "uploads", b"")
    with pytest.raises(BadRequest, match="the zip is empty"):
        store(tmp_path / "uploads", b"PK\x05\x06" + b"\0" * 18)


def test_truncated_gzip_is_400(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="truncated gzip"):
        store(tmp_path / "uploads", nifti_bytes(tmp_path, gz=True)[:30])


def test_over_the_limit_is_413_at_once_and_leaves_nothing(tmp_path: Path) -> None:
    sent = []

    async def stream() -> AsyncIterator[bytes]:
        for i in range(100):
            sent.append(i)
            yield b"\0" * 64 * 1024

    uploads = tmp_path / "uploads"
    with pytest.raises(TooLarge, match="over the limit of 200.0 KiB") as err:
        asyncio.run(store_upload(stream(), uploads, 200 * 1024))
    assert err.value.status == 413
    assert len(sent) == 4  # stopped on the chunk that passed the limit, not at the end of the stream
    assert [p for p in uploads.rglob("*") if p.is_file()] == []


def test_exactly_the_limit_is_accepted(tmp_path: Path) -> None:
    data = raster_bytes("PNG")
    assert store(tmp_path / "uploads", data, max_bytes=len(data)).size == len(data)


def test_same_bytes_twice_share_one_folder_whatever_the_source(tmp_path: Path) -> None:
    """Also: big uploads hash right across 1 MiB write chunks, and an UploadFile is read in chunks."""
    rng = np.random.default_rng(0)
    data = raster_bytes("PNG") + rng.integers(0, 256, 3 * 1024**2 + 17, dtype=np.uint8).tobytes()
    uploads = tmp_path / "uploads"
    first = store(uploads, data)
    first.path.touch()
    mtime = first.path.stat().st_mtime_ns
    second = asyncio.run(store_upload(UploadFile(io.BytesIO(data)), uploads, 64 * 1024**2))
    assert second == first and first.sha256 == hashlib.sha256(data).hexdigest()
    assert first.path.stat().st_mtime_ns == mtime  # kept, not replaced
    assert sorted(p.name for p in uploads.iterdir()) == [".incoming", first.sha256]
    assert [p.name for p in first.folder.iterdir()] == ["input.png"]


def test_truncated_png_is_400_naming_the_problem_without_server_paths(tmp_path: Path) -> None:
    data = raster_bytes("PNG")
    up = store(tmp_path / "uploads", data[: len(data) - 40])
    assert up.kind == "png"
    with pytest.raises(BadRequest) as err:
        read_upload(up)
    message = err.value.message
    assert message.startswith("upload: cannot read PNG") and "truncated" in message.lower()
    assert str(tmp_path) not in message


def test_damaged_nifti_is_400_without_server_paths(tmp_path: Path) -> None:
    data = nifti_bytes(tmp_path, gz=False)
    up = store(tmp_path / "uploads", data[:400])  # header intact, voxels cut off
    with pytest.raises(BadRequest) as err:
        read_upload(up)
    assert err.value.message.startswith("upload: ") and "NIfTI" in err.value.message
    assert str(tmp_path) not in err.value.message
