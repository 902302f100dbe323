"""Issue #25's classes of hostile input, each reproduced with generated files: a TumorscopeError naming
the file (or a correct read), never a crash, another exception, a memory blow-up or a wrong result."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile

from tests.fuzz.corpus import gz_bomb, nifti_claiming, nifti_with, set_dicom, set_dicom_raw
from tests.io.conftest import write_dicom_slice, write_series
from tumorscope.errors import TumorscopeError, display_path
from tumorscope.io import probe_image, read_image, read_mask

REPO = Path(__file__).resolve().parents[2]


def _refused(path: Path, *needles: str, reader: Callable[[Path], object] = read_image) -> str:
    with pytest.raises(TumorscopeError) as info:
        reader(path)
    message = str(info.value)
    assert display_path(path) in message or display_path(path.parent) in message, message
    assert "\n" not in message
    for n in needles:
        assert n in message, message
    return message


def _slice(path: Path, **kw: object) -> Path:
    return write_dicom_slice(path, np.arange(8 * 6, dtype=np.uint16).reshape(8, 6), series_uid="1.2.3", **kw)


# 1. non-UTF-8 paths: SimpleITK must never see them (it aborts the process).


def test_non_utf8_dicom_file_and_series_read_in_a_process_that_survives(tmp_path: Path) -> None:
    folder = os.path.join(os.fsencode(tmp_path), b"s\xe9rie")
    os.mkdir(folder)
    write_series(Path(os.fsdecode(folder)), n=3, shape=(5, 6))
    one = os.path.join(folder, b"IM0001.dcm")
    code = (
        "import os,sys\nfrom tumorscope.io import read_image\n"
        "a = read_image(os.fsdecode(bytes.fromhex(sys.argv[1])))\n"
        "b = read_image(os.fsdecode(bytes.fromhex(sys.argv[2])))\n"
        "print(a.array.shape, b.array.shape)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, folder.hex(), one.hex()], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(3, 5, 6, 1) (5, 6, 1)"


def test_non_utf8_name_in_an_error_is_printable(tmp_path: Path) -> None:
    bad = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9.png")))
    bad.write_bytes(b"not a png")
    message = _refused(bad, "caf\\xe9.png")
    message.encode("utf-8")  # printable under a UTF-8 locale


def test_name_too_long_is_a_clean_error(tmp_path: Path) -> None:
    _refused(tmp_path / ("x" * 300 + ".png"), "too long")
    _refused(tmp_path / ("x" * 300 + ".nii.gz"), "too long", reader=probe_image)


# 2. PixelData shorter than declared: never decoded from uninitialised memory.


def test_dicom_pixel_data_cut_short(tmp_path: Path) -> None:
    path = _slice(tmp_path / "cut.dcm")
    path.write_bytes(path.read_bytes()[:-30])
    _refused(path, "PixelData holds", "declare 96")


@pytest.mark.parametrize(
    "values",
    [{"Rows": 80}, {"NumberOfFrames": 5}, {"SamplesPerPixel": 3, "PhotometricInterpretation": "RGB"}],
    ids=["rows", "frames", "rgb_on_gray"],
)
def test_dicom_header_claims_more_pixels_than_stored(tmp_path: Path, values: dict) -> None:
    path = _slice(tmp_path / "claim.dcm")
    set_dicom(path, **values)
    _refused(path, "PixelData holds 96 bytes")


def test_dicom_series_with_one_short_slice(tmp_path: Path) -> None:
    write_series(tmp_path, n=3, shape=(5, 6))
    victim = tmp_path / "IM0002.dcm"
    victim.write_bytes(victim.read_bytes()[:-8])
    _refused(tmp_path, "IM0002.dcm", "PixelData holds")


# 4. degenerate geometry.


@pytest.mark.parametrize(
    "header",
    [
        {"sform_code": 1, "qform_code": 0, "srow_x": [np.nan, 0, 0, 0]},
        {"sform_code": 1, "qform_code": 0, "srow_x": [0, 0, 0, 0], "srow_y": [0, 0, 0, 0], "srow_z": [0, 0, 0, 0]},
        {"sform_code": 1, "qform_code": 0, "srow_x": [1, 0, 0, 0], "srow_y": [1, 0, 0, 0], "srow_z": [0, 0, 1, 0]},
        {"sform_code": 0, "qform_code": 1, "pixdim": [1, 0, 1, 1, 1, 1, 1, 1]},
        {"sform_code": 0, "qform_code": 1, "quatern_b": np.nan},
        {"sform_code": 0, "qform_code": 0, "pixdim": [1, 1, np.nan, 1, 1, 1, 1, 1]},
        {"sform_code": 0, "qform_code": 0, "pixdim": [1, 1, -2, 1, 1, 1, 1, 1]},
    ],
    ids=["sform_nan", "sform_zero", "sform_parallel", "qform_pixdim_zero", "qform_nan", "pixdim_nan", "pixdim_negative"],
)
def test_nifti_degenerate_geometry(tmp_path: Path, header: dict) -> None:
    path = nifti_with(tmp_path / "geo.nii.gz", np.ones((4, 5, 3), np.int16), **header)
    _refused(path)
    _refused(path, reader=probe_image)


def test_nifti_bad_sform_falls_back_to_a_good_qform(tmp_path: Path) -> None:
    path = nifti_with(tmp_path / "geo.nii", np.ones((4, 5, 3), np.int16), np.diag([2.0, 3.0, 4.0, 1.0]),
                      sform_code=1, qform_code=1, srow_x=[np.nan, 0, 0, 0])
    assert read_image(path).spacing == pytest.approx((2.0, 3.0, 4.0))


@pytest.mark.parametrize(
    "orientation", [(0, 0, 0, 0, 0, 0), (1, 0, 0, 1, 0, 0), (1, 0, 0, -1, 0, 0)], ids=["zero", "parallel", "opposite"]
)
def test_dicom_degenerate_orientation(tmp_path: Path, orientation: tuple) -> None:
    _refused(_slice(tmp_path / "o.dcm", orientation=orientation), "ImageOrientationPatient", "degenerate")
    write_series(tmp_path / "s", n=3, shape=(5, 6))
    for f in (tmp_path / "s").iterdir():
        set_dicom(f, ImageOrientationPatient=list(orientation))
    _refused(tmp_path / "s", "degenerate")


def test_dicom_pixel_spacing_zero(tmp_path: Path) -> None:
    _refused(_slice(tmp_path / "z.dcm", pixel_spacing=(0.0, 0.5)), "PixelSpacing", "positive")


@pytest.mark.parametrize("spacing", [-1.0, float("nan")], ids=["negative", "nan"])
def test_tiff_imagej_bad_spacing(tmp_path: Path, spacing: float) -> None:
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, np.zeros((4, 8, 8), np.uint8), imagej=True, resolution=(2.0, 2.0),
                     metadata={"unit": "mm", "spacing": spacing, "axes": "ZYX"})
    _refused(path, "spacing")


# 5. malformed DICOM values: parsed inside the error translation, naming the tag.


@pytest.mark.parametrize(
    "keyword,raw",
    [
        ("PixelSpacing", b"abc"),
        ("PixelSpacing", b"0.7"),
        ("ImagePositionPatient", b"a\\b\\c"),
        ("ImagePositionPatient", b"1\\2"),
        ("ImageOrientationPatient", b"1\\0\\0\\0\\1"),
        ("Rows", b"\x00"),
    ],
    ids=["spacing_text", "spacing_one", "position_text", "position_two", "orientation_five", "rows_short"],
)
def test_dicom_malformed_value(tmp_path: Path, keyword: str, raw: bytes) -> None:
    path = _slice(tmp_path / "m.dcm")
    set_dicom_raw(path, keyword, raw)
    message = _refused(path)
    assert keyword in message or "cannot read DICOM" in message, message
    write_series(tmp_path / "s", n=3, shape=(5, 6))
    set_dicom_raw(tmp_path / "s" / "IM0002.dcm", keyword, raw)
    _refused(tmp_path / "s", "IM0002.dcm")
    _refused(tmp_path / "s", "IM0002.dcm", reader=probe_image)


def test_dicom_malformed_frames_instance_and_unknown_vr(tmp_path: Path) -> None:
    path = _slice(tmp_path / "f.dcm")
    set_dicom(path, NumberOfFrames=1)
    set_dicom_raw(path, "NumberOfFrames", b"abc")
    _refused(path, "NumberOfFrames")
    write_series(tmp_path / "s", n=3, shape=(5, 6))
    set_dicom_raw(tmp_path / "s" / "IM0002.dcm", "InstanceNumber", b"abc")
    _refused(tmp_path / "s", "InstanceNumber")
    vr = _slice(tmp_path / "vr.dcm")
    set_dicom_raw(vr, "PixelSpacing", b"0.7\\0.5", vr=b"ZZ")
    _refused(vr)


# 6. damaged TIFF tags.


def _patch_tag(path: Path, code: int, value: int) -> None:
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages.first.tags[code].valueoffset
    data = bytearray(path.read_bytes())
    data[offset : offset + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(data))


def test_tiff_unknown_photometric(tmp_path: Path) -> None:
    path = tmp_path / "p.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8))
    _patch_tag(path, 262, 99)
    _refused(path, "photometric")
    _refused(path, "photometric", reader=probe_image)


def test_tiff_palette_too_small_for_the_pixels(tmp_path: Path) -> None:
    path = tmp_path / "pal.tif"
    tifffile.imwrite(path, np.full((8, 8), 200, np.uint8), photometric="palette",
                     colormap=np.zeros((3, 256), np.uint16))
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages.first.tags[320]
        offset, count = tag.valueoffset, tag.count
    data = bytearray(path.read_bytes())
    data[offset : offset + 2 * count] = b"\xff" * (2 * count)
    path.write_bytes(bytes(data))
    assert read_image(path).array.shape == (8, 8, 3)  # a full palette of another colour is still valid
    # bits per sample 16 with a 256-entry palette: pixels index past it
    path16 = tmp_path / "pal16.tif"
    tifffile.imwrite(path16, np.full((8, 8), 200, np.uint8), photometric="palette",
                     colormap=np.zeros((3, 256), np.uint16))
    _patch_tag(path16, 258, 16)
    _refused(path16)


def test_tiff_header_shape_unlike_the_data(tmp_path: Path) -> None:
    path = tmp_path / "w.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8))
    _patch_tag(path, 256, 4000)  # ImageWidth
    _refused(path, "TIFF")


# 7. size bombs: refused from the header, before allocating or inflating.


def _bounded(fn: Callable[[], object], max_mb: float = 64, max_s: float = 5.0) -> None:
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(TumorscopeError, match="limit"):
            fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < max_mb * 2**20, f"peak {peak / 2**20:.0f} MB"
    assert time.monotonic() - t0 < max_s


@pytest.mark.parametrize("name", ["claim.nii", "claim.nii.gz"])
def test_nifti_small_file_claiming_billions_of_voxels(tmp_path: Path, name: str) -> None:
    path = nifti_claiming(tmp_path / name, (2000, 2000, 600), payload=128 * 1024)
    _bounded(lambda: read_image(path))
    huge = nifti_claiming(tmp_path / ("64tb_" + name), (32767, 32767, 32767, 16), np.float64)
    _bounded(lambda: read_image(huge))
    _bounded(lambda: probe_image(huge))


def test_nifti_gz_bomb_refused_before_inflating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = gz_bomb(tmp_path / "bomb.nii.gz", (512, 512, 64))  # 16 MiB of zeros in a small file
    monkeypatch.setenv("TUMORSCOPE_MAX_BYTES", "8M")
    _bounded(lambda: read_image(path), max_mb=16)
    monkeypatch.setenv("TUMORSCOPE_MAX_BYTES", "64M")
    assert read_image(path).array.shape == (64, 512, 512, 1)


def test_truncated_nifti_gz_stream(tmp_path: Path) -> None:
    path = tmp_path / "t.nii.gz"
    nib.save(nib.Nifti1Image(np.arange(4000, dtype=np.float32).reshape(20, 20, 10), np.eye(4)), path)
    path.write_bytes(path.read_bytes()[:-2000])
    _refused(path, "NIfTI")


def test_deflate_tiff_claiming_gigabytes(tmp_path: Path) -> None:
    path = tmp_path / "big.tif"
    with tifffile.TiffWriter(path) as tw:  # a small file whose header claims 60000 x 60000 pixels
        tw.write(np.zeros((16, 16), np.uint8), compression="zlib")
    _patch_tag(path, 256, 60000)
    _patch_tag(path, 257, 60000)
    _bounded(lambda: read_image(path))


def test_png_claiming_a_huge_canvas(tmp_path: Path) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    path = tmp_path / "big.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
                     + chunk(b"IEND", b""))
    _bounded(lambda: read_image(path))


def test_limits_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.png"
    from PIL import Image as PILImage

    PILImage.fromarray(np.zeros((40, 50), np.uint8)).save(path)
    monkeypatch.setenv("TUMORSCOPE_MAX_VOXELS", "1000")
    _refused(path, "TUMORSCOPE_MAX_VOXELS")
    monkeypatch.setenv("TUMORSCOPE_MAX_VOXELS", "lots")
    with pytest.raises(TumorscopeError, match="TUMORSCOPE_MAX_VOXELS"):
        read_image(path)
    monkeypatch.setenv("TUMORSCOPE_MAX_VOXELS", "2K")
    assert read_image(path).array.shape == (40, 50, 1)


# 8. zero-length axes.


def test_nifti_zero_length_axis(tmp_path: Path) -> None:
    path = nifti_with(tmp_path / "z.nii", np.ones((4, 5, 3), np.int16))
    data = bytearray(path.read_bytes())
    hdr = nib.Nifti1Header.from_fileobj(__import__("io").BytesIO(bytes(data[:348])), check=False)
    hdr["dim"][2] = 0
    data[:348] = hdr.binaryblock
    path.write_bytes(bytes(data))
    _refused(path, "length 0")
    _refused(path, "length 0", reader=probe_image)


def test_dicom_zero_rows(tmp_path: Path) -> None:
    path = _slice(tmp_path / "r.dcm")
    set_dicom(path, Rows=0)
    _refused(path, "Rows")


# NaN: refused in images and masks (a NaN mask is not background).


def test_float_mask_with_nan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mask.tif"
    mask = np.zeros((8, 8), np.float32)
    mask[2, 2] = np.nan
    tifffile.imwrite(path, mask)
    _refused(path, "NaN", reader=read_mask)
    nii = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(mask[..., None], np.eye(4)), nii)
    _refused(nii, "NaN", reader=read_mask)


def test_tiff_directory_loop_is_refused_not_followed_for_ever(tmp_path: Path) -> None:
    path = tmp_path / "loop.tif"
    tifffile.imwrite(path, np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        first, second = tif.pages[0].offset, tif.pages[1].offset
        n_tags = len(tif.pages[1].tags)
    data = bytearray(path.read_bytes())
    next_at = second + 2 + 12 * n_tags
    data[next_at : next_at + 4] = first.to_bytes(4, "little")  # page 2 -> page 1 again
    path.write_bytes(bytes(data))
    t0 = time.monotonic()
    _refused(path, "loop")
    _refused(path, "loop", reader=probe_image)
    assert time.monotonic() - t0 < 5
