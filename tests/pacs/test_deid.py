"""tumorscope deid: PHI planted in names, IDs, dates, descriptions, comments, private tags and sequences appears in
no output file or CLI line; UIDs and date shifts are consistent per salt; pixels and geometry are unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from tests.io.conftest import write_dicom_slice
from tests.pacs.phi import NEEDLES, SALT, plant
from tumorscope.cli import main
from tumorscope.errors import TumorscopeError
from tumorscope.io.reader import read_image
from tumorscope.pacs.deid import deidentify_file, deidentify_tree


@pytest.fixture
def phi_series(tmp_path: Path) -> Path:
    folder = tmp_path / "Sentinelname_Phisecret" / "in"
    uid, rng = generate_uid(), np.random.default_rng(5)
    for i in range(3):
        path = write_dicom_slice(folder / f"PHI-ID-84731_{i}.dcm",
                                 rng.integers(0, 900, (12, 10)).astype(np.uint16), series_uid=uid,
                                 position=(0.0, 0.0, 2.0 * i), instance=i + 1)
        ds = pydicom.dcmread(path)
        plant(ds)
        ds.save_as(path)
    (folder / "notes_Sentinelname.txt").write_text("Phisecret")
    return folder


def _headers(folder: Path) -> list[Dataset]:
    return [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]


def test_no_planted_phi_in_any_output(phi_series: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert all(any(n in p.read_bytes() for p in phi_series.glob("*.dcm")) for n in NEEDLES)  # it is planted
    out = tmp_path / "out"
    assert main(["deid", str(phi_series), str(out), "--salt", SALT]) == 0
    logs = capsys.readouterr()
    files = list(out.rglob("*"))
    assert len(files) == 3 and all(f.suffix == ".dcm" for f in files)
    for blob in [f.read_bytes() for f in files] + [str(f.relative_to(tmp_path / "out")).encode() for f in files] + \
            [logs.out.encode(), logs.err.encode()]:
        assert [n for n in NEEDLES if n in blob] == []
    assert "3 file(s) of 1 series" in logs.out and "1 non-DICOM" in logs.out
    ds = _headers(out)[0]
    assert ds.PatientIdentityRemoved == "YES" and ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100", "113107"]
    assert "DeidentificationMethod" in ds and "SeriesDescription" not in ds and "ImageComments" not in ds
    assert not any(el.tag.is_private for el in ds.iterall())
    assert ds.AnatomicRegionSequence[0].CodeMeaning == "Brain"  # kept, its UID remapped like the others
    assert ds.AnatomicRegionSequence[0].ReferencedSOPInstanceUID == ds.FrameOfReferenceUID


def test_uids_consistent_per_salt_and_dates_shifted_per_patient(phi_series: Path, tmp_path: Path) -> None:
    src = _headers(phi_series)[0]
    runs = {name: _headers(tmp_path / name) for name, salt in (("a", SALT), ("b", SALT), ("c", "other"))
            if deidentify_tree(phi_series, tmp_path / name, salt)["files"] == 3}
    a, b, c = runs["a"], runs["b"], runs["c"]
    for key in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert len({str(d.get(key)) for d in a}) == 1  # consistent across the series
        assert str(a[0].get(key)) == str(b[0].get(key)) != str(c[0].get(key))  # per salt
        assert str(a[0].get(key)).startswith("2.25.") and str(a[0].get(key)) != str(src.get(key))
    assert len({d.SOPInstanceUID for d in a}) == 3
    assert all(d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID for d in a)
    shifts = {(dt.date.fromisoformat(f"{d.StudyDate[:4]}-{d.StudyDate[4:6]}-{d.StudyDate[6:]}")
               - dt.date(2019, 3, 11)).days for d in a}
    assert len(shifts) == 1 and -3650 <= shifts.pop() <= -1
    assert {d.SeriesDate for d in a} == {a[0].StudyDate} and a[0].PatientBirthDate in ("", "00010101")  # the table empties it
    removed = _headers(tmp_path / "r") if deidentify_tree(phi_series, tmp_path / "r", SALT, "remove") else []
    assert removed[0].StudyDate in ("", "00010101") and removed[0].LongitudinalTemporalInformationModified == "REMOVED"
    assert [c.CodeValue for c in removed[0].DeidentificationMethodCodeSequence] == ["113100"]


def test_pixels_and_geometry_unchanged(phi_series: Path, tmp_path: Path) -> None:
    deidentify_tree(phi_series, tmp_path / "out", SALT)
    before, after = read_image(phi_series), read_image(tmp_path / "out")
    np.testing.assert_array_equal(before.array, after.array)
    assert (before.spacing, before.origin, before.direction) == (after.spacing, after.origin, after.direction)


def test_burned_in_refused_unless_allowed(phi_series: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = sorted(phi_series.glob("*.dcm"))[1]
    ds = pydicom.dcmread(path)
    ds.BurnedInAnnotation = "YES"
    ds.save_as(path)
    out = tmp_path / "out"
    assert main(["deid", str(phi_series), str(out), "--salt", SALT]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "BurnedInAnnotation" in err and path.name in err
    assert not out.exists()  # all or nothing
    assert main(["deid", str(phi_series), str(out), "--salt", SALT, "--allow-burned-in"]) == 0
    assert len(list(out.iterdir())) == 3


def test_salt_required_and_ultrasound_refused(phi_series: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUMORSCOPE_DEID_SALT", raising=False)
    src = sorted(phi_series.glob("*.dcm"))[0]
    with pytest.raises(TumorscopeError, match="salt"):
        deidentify_file(src, tmp_path / "x.dcm", "")
    ds = pydicom.dcmread(src)
    ds.Modality = "US"
    ds.save_as(src)
    with pytest.raises(TumorscopeError, match="ultrasound"):
        deidentify_file(src, tmp_path / "x.dcm", SALT)
    monkeypatch.setenv("TUMORSCOPE_DEID_SALT", SALT)
    assert main(["deid", str(phi_series), str(tmp_path / "o"), "--allow-burned-in"]) == 0


def test_real_series_same_pixels(dicom_dir: Path, tmp_path: Path) -> None:
    summary = deidentify_tree(dicom_dir, tmp_path / "out", SALT, allow_burned_in=True)
    assert summary["files"] > 0
    before, after = read_image(dicom_dir), read_image(tmp_path / "out")
    np.testing.assert_array_equal(before.array, after.array)
    np.testing.assert_allclose(before.spacing, after.spacing)
