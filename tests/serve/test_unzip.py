"""Zip uploads: unsafe paths, symlinks, encryption, bombs and damage are 400s leaving nothing behind;
a zipped kaggle_3m patient folder or a flat DICOM series reads as it would unzipped."""

from __future__ import annotations

import re
import shutil
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.serve.upload_builders import leftovers, patch_central, raster_bytes, store, symlink_zip, zip_bytes
from tumorscope.serve import unzip
from tumorscope.serve.errors import BadRequest
from tumorscope.serve.uploads import StoredUpload, prepare_input, read_upload

PNG = raster_bytes("PNG")
BOMB_BYTES = 50 * 1024**2


def refused(tmp_path: Path, data: bytes) -> tuple[str, StoredUpload]:
    """The BadRequest message of preparing ``data`` as a zip upload, after checking nothing was left."""
    up = store(tmp_path / "uploads", data)
    assert up.kind == "zip"
    with pytest.raises(BadRequest) as err:
        prepare_input(up)
    assert leftovers(up.folder) == []
    assert str(tmp_path) not in err.value.message
    return err.value.message, up


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../evil.png", "points outside the zip (a '..' in its path)"),
        ("scans/../../evil.png", "points outside the zip (a '..' in its path)"),
        ("..\\evil.png", "points outside the zip (a '..' in its path)"),
        ("/etc/evil.png", "has an absolute path"),
        ("C:/evil.png", "has an absolute path"),
    ],
)
def test_paths_leaving_the_folder_are_refused(tmp_path: Path, name: str, problem: str) -> None:
    message, _ = refused(tmp_path, zip_bytes([("ok.png", PNG), (name, PNG)]))
    assert message == f"zip member {name!r} {problem}"
    assert not (tmp_path / "evil.png").exists()


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    message, _ = refused(tmp_path, symlink_zip("scan.png", "/etc/passwd"))
    assert message == "zip member 'scan.png' is a symbolic link"


def test_encrypted_member_is_refused(tmp_path: Path) -> None:
    message, _ = refused(tmp_path, patch_central(zip_bytes([("scan.png", PNG)]), flags=0x1))
    assert message == "zip member 'scan.png' is encrypted"


def test_bomb_is_stopped_early(tmp_path: Path) -> None:
    message, _ = refused(tmp_path, zip_bytes([("bomb.bin", bytes(BOMB_BYTES))]))
    assert message.startswith("decompression bomb: zip member 'bomb.bin' inflated past ")
    assert _mib(message, "inflated past") <= 11  # stopped at 200:1 of its ~50 KiB, not at 50 MiB


def test_bomb_lying_about_its_compressed_size_is_measured_by_its_real_span(tmp_path: Path) -> None:
    """Declaring 1:1 compression (with incompressible data after it to read on into) does not hide the
    ratio: it is taken against the bytes up to the next member's header."""
    padding = np.random.default_rng(0).integers(0, 256, 3 * 1024**2, dtype=np.uint8).tobytes()
    data = zip_bytes([("bomb.bin", bytes(BOMB_BYTES)), ("padding.bin", padding)])
    message, _ = refused(tmp_path, patch_central(data, index=0, compressed=BOMB_BYTES))
    assert message.startswith("decompression bomb: zip member 'bomb.bin' inflated past ")
    assert _mib(message, "inflated past") <= 11


def test_many_small_bombs_are_stopped_by_the_whole_zips_ratio(tmp_path: Path) -> None:
    """Members each under the 4 MiB floor of the per-member ratio still count against the zip's size."""
    message, _ = refused(tmp_path, zip_bytes([(f"{i}.bin", bytes(3 * 1024**2)) for i in range(4)]))
    assert message.startswith("decompression bomb: the zip's content passed ")
    assert re.search(r"extraction stopped at member '[12].bin'\)$", message), message


def test_member_declaring_fewer_bytes_than_it_holds_never_writes_more(tmp_path: Path) -> None:
    """zipfile stops at the declared size; with the CRC of the cut content it is a plain small file,
    without it a CRC error (damaged)."""
    honest = zip_bytes([("zeros.bin", bytes(BOMB_BYTES))])
    message, _ = refused(tmp_path / "a", patch_central(honest, size=1024))
    assert message.startswith("zip member 'zeros.bin' is damaged: Bad CRC-32")
    up = store(tmp_path / "b", patch_central(honest, size=1024, crc=zlib.crc32(bytes(1024))))
    assert prepare_input(up).stat().st_size == 1024


def test_declared_total_over_the_limit_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unzip, "MAX_TOTAL_BYTES", 1024**2)
    message, up = refused(tmp_path, patch_central(zip_bytes([("huge.bin", b"x")]), size=2 * 1024**2))
    assert message == "the zip declares 2.0 MiB of content, over the limit of 1.0 MiB"
    assert not (up.folder / "unpacked").exists()


def test_total_limit_counts_the_bytes_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: zipfile never yields more than the declared sizes checked above, so the running
    count can only be reached directly."""
    monkeypatch.setattr(unzip, "MAX_TOTAL_BYTES", 10)
    budget = unzip._Budget(archive_size=10**9)
    budget.spend(10, "'a'")
    with pytest.raises(BadRequest, match=r"passed the limit of 10 B \(extraction stopped at member 'b'\)"):
        budget.spend(1, "'b'")


def test_too_many_members_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unzip, "MAX_MEMBERS", 5)
    message, _ = refused(tmp_path, zip_bytes([(f"{i}.png", PNG) for i in range(6)]))
    assert message == "the zip holds 6 entries, over the limit of 5"


def test_duplicate_member_is_refused(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = zip_bytes([("a/scan.png", PNG), ("a/scan.png", PNG)])
    message, _ = refused(tmp_path, data)
    assert message == "zip member 'a/scan.png' clashes with another member of the same name"


def test_damaged_zips_are_400(tmp_path: Path) -> None:
    good = zip_bytes([("scan.png", PNG * 4)])
    message, _ = refused(tmp_path / "cut", good[: len(good) // 2])
    assert message.startswith("damaged zip: ")
    flipped = bytearray(good)
    flipped[60] ^= 0xFF  # inside the compressed data
    message, _ = refused(tmp_path / "flip", bytes(flipped))
    assert message.startswith("zip member 'scan.png' is damaged: ")


def test_zip_of_nothing_but_junk_is_400(tmp_path: Path) -> None:
    data = zip_bytes([("__MACOSX/._scan.png", b"junk"), (".DS_Store", b"junk"), ("folder/", b"")])
    message, _ = refused(tmp_path, data)
    assert message == "the zip holds no files"


def test_kaggle_patient_folder_zipped_reads_as_that_patient(tmp_path: Path) -> None:
    from tests.synthetic import write_kaggle3m

    root = write_kaggle3m(tmp_path / "lgg", n_patients=1, n_slices=3, size=32)
    patient = next((root / "kaggle_3m").iterdir())
    members = [(f"{patient.name}/{f.name}", f.read_bytes()) for f in sorted(patient.iterdir())]
    members += [(f"__MACOSX/{patient.name}/._x.tif", b"junk"), (f"{patient.name}/.DS_Store", b"junk")]
    up = store(tmp_path / "uploads", zip_bytes(members))
    got = read_upload(up)
    assert got.path == up.folder / "unpacked" / patient.name
    assert got.family == "slices" and got.slices.shape[:3] == (3, 32, 32)
    assert got.truth is not None and got.truth.shape == (3, 32, 32)
    assert read_upload(up).names == got.names  # second read reuses the extraction
    assert sorted(p.name for p in up.folder.iterdir()) == ["input.zip", "unpacked"]
    assert sorted(p.name for p in got.path.iterdir()) == sorted(f.name for f in patient.iterdir())


def test_flat_dicom_series_zipped_reads_as_a_volume(tmp_path: Path) -> None:
    from tests.io.conftest import write_series

    _, raw = write_series(tmp_path / "series", n=3)
    members = [(f.name, f.read_bytes()) for f in sorted((tmp_path / "series").iterdir())]
    up = store(tmp_path / "uploads", zip_bytes(members))
    assert prepare_input(up) == up.folder / "unpacked"
    got = read_upload(up)
    assert got.family == "volume" and got.slices.shape[:3] == raw.shape


def test_damaged_member_is_named_by_its_path_in_the_zip(tmp_path: Path) -> None:
    up = store(tmp_path / "uploads", zip_bytes([("case/a.png", PNG), ("case/b.png", PNG[:-40])]))
    with pytest.raises(BadRequest) as err:
        read_upload(up)
    assert err.value.message == "case/b.png: cannot read PNG: image file is truncated"


@pytest.mark.shared_data
def test_real_dicom_series_zipped_reads_as_a_volume(tmp_path: Path, dicom_dir: Path) -> None:
    series = next(p.parent for p in dicom_dir.rglob("*.dcm"))
    members = [(f"{series.name}/{f.name}", f.read_bytes()) for f in sorted(series.glob("*.dcm"))]
    up = store(tmp_path / "uploads", zip_bytes(members, zipfile.ZIP_STORED))
    got = read_upload(up)
    assert got.family == "volume" and got.slices.shape[:3] == (len(members), 512, 512)


@pytest.mark.shared_data
def test_real_lgg_patient_zipped_reads_as_that_patient(tmp_path: Path, lgg_dir: Path) -> None:
    patient = sorted(p for p in (lgg_dir / "kaggle_3m").iterdir() if p.is_dir())[0]
    work = tmp_path / "copy" / patient.name
    shutil.copytree(patient, work)
    members = [(f"{patient.name}/{f.name}", f.read_bytes()) for f in sorted(work.iterdir())]
    got = read_upload(store(tmp_path / "uploads", zip_bytes(members, zipfile.ZIP_STORED)))
    n = len([f for f in work.iterdir() if f.name.endswith(".tif") and not f.name.endswith("_mask.tif")])
    assert got.slices.shape == (n, 256, 256, 3) and got.truth is not None
    assert np.isin(np.unique(got.truth), [0, 1]).all()


def _mib(message: str, after: str) -> float:
    match = re.search(rf"{after} ([\d.]+) MiB", message)
    assert match, message
    return float(match[1])


def test_zip_of_one_file_reads_that_file(tmp_path: Path) -> None:
    from tests.serve.upload_builders import nifti_bytes

    up = store(tmp_path / "uploads", zip_bytes([("scans/brain.nii.gz", nifti_bytes(tmp_path, gz=True))]))
    assert prepare_input(up) == up.folder / "unpacked" / "scans"
    up = store(tmp_path / "uploads", zip_bytes([("brain.nii.gz", nifti_bytes(tmp_path, gz=True))]))
    assert prepare_input(up) == up.folder / "unpacked" / "brain.nii.gz"
    assert read_upload(up).family == "volume"


def test_two_dicom_series_need_a_series_uid(tmp_path: Path) -> None:
    from tests.io.conftest import write_series

    uid_a, _ = write_series(tmp_path / "a", n=3)
    uid_b, raw_b = write_series(tmp_path / "b", n=2)
    members = [(f"{d}/{f.name}", f.read_bytes()) for d in "ab" for f in sorted((tmp_path / d).iterdir())]
    up = store(tmp_path / "uploads", zip_bytes(members))
    with pytest.raises(BadRequest) as err:
        read_upload(up)
    assert err.value.message.startswith("zip: holds 2 DICOM series, choose one with series_uid: ")
    assert uid_a in err.value.message and str(tmp_path) not in err.value.message
    assert read_upload(up, series_uid=uid_b).slices.shape[:3] == raw_b.shape


def test_deep_paths_are_refused(tmp_path: Path) -> None:
    name = "/".join(["folder"] * 200) + "/scan.png"
    message, _ = refused(tmp_path, zip_bytes([(name, PNG)]))
    assert message.endswith("has a path longer than 1024 bytes")
