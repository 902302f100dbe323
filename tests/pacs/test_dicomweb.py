"""tumorscope pacs push|pull against a real Orthanc (Debian orthanc + orthanc-dicomweb): a series pushed with
STOW-RS is found by QIDO-RS and pulled back with WADO-RS with the same pixels and geometry; an unreachable
server, an unknown study and a non-DICOM file each give one line and exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import generate_uid

from tests.io.conftest import write_series
from tests.pacs.orthanc import Orthanc, _free_port, orthanc_unavailable, running_orthanc
from tumorscope.cli import main
from tumorscope.io.reader import read_image

pytestmark = pytest.mark.skipif(orthanc_unavailable() is not None, reason=str(orthanc_unavailable()))


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    with running_orthanc(tmp_path_factory.mktemp("pacs")) as server:
        yield server


def _synthetic_study(folder: Path) -> str:
    """A 4-slice CT series in a study of its own (write_series shares one study UID per session)."""
    write_series(folder, n=4, shape=(8, 6))
    study = generate_uid()
    for f in folder.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID = study
        ds.save_as(f, enforce_file_format=True)
    return study


def _round_trip(orthanc: Orthanc, src: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    originals = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: f for f in src.rglob("*.dcm")}
    study = pydicom.dcmread(next(iter(originals.values())), stop_before_pixels=True).StudyInstanceUID

    assert main(["pacs", "push", "--url", orthanc.url, str(src)]) == 0
    assert f"pushed {len(originals)} instance(s)" in capsys.readouterr().out

    client = DICOMwebClient(url=orthanc.url)  # QIDO-RS, independently of tumorscope
    found = client.search_for_studies(search_filters={"StudyInstanceUID": study})
    assert len(found) == 1
    assert {pydicom.Dataset.from_json(i).SOPInstanceUID
            for i in client.search_for_instances(study_instance_uid=study)} == set(originals)

    out = tmp_path / "pulled"
    assert main(["pacs", "pull", "--url", orthanc.url, "--study", study, "-o", str(out)]) == 0
    assert f"pulled {len(originals)} instance(s)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{uid}.dcm" for uid in originals)

    series_dir = next(iter(originals.values())).parent
    before, after = read_image(series_dir), read_image(out)
    np.testing.assert_array_equal(after.array, before.array)
    np.testing.assert_allclose(after.spacing, before.spacing)
    np.testing.assert_allclose(after.origin, before.origin)
    np.testing.assert_allclose(after.direction, before.direction)


def test_push_query_pull_synthetic_series(orthanc: Orthanc, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _synthetic_study(tmp_path / "src")
    _round_trip(orthanc, tmp_path / "src", tmp_path, capsys)


@pytest.mark.shared_data
def test_push_query_pull_real_ct_series(orthanc: Orthanc, dicom_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    _round_trip(orthanc, dicom_dir, tmp_path, capsys)


def test_pull_is_repeatable_and_survives_a_server_restart(orthanc: Orthanc, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    study = _synthetic_study(tmp_path / "src")
    assert main(["pacs", "push", "--url", orthanc.url, str(tmp_path / "src")]) == 0
    orthanc.restart()  # same storage, new port
    for _ in range(2):
        assert main(["pacs", "pull", "--url", orthanc.url, "--study", study, "-o", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").iterdir())) == 4  # rewritten in place, no temporaries left
    capsys.readouterr()


def _one_line_error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


def test_unreachable_server_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    url = f"http://127.0.0.1:{_free_port()}/dicom-web"  # nothing listens there
    assert main(["pacs", "pull", "--url", url, "--study", "1.2.3", "-o", str(tmp_path / "o")]) == 2
    assert f"cannot reach the DICOMweb server at {url}" in _one_line_error(capsys)
    _synthetic_study(tmp_path / "src")
    assert main(["pacs", "push", "--url", url, str(tmp_path / "src")]) == 2
    assert f"cannot reach the DICOMweb server at {url}" in _one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_unknown_study_and_bad_inputs_are_one_line_exit_2(orthanc: Orthanc, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    assert main(["pacs", "pull", "--url", orthanc.url, "--study", generate_uid(), "-o", str(tmp_path / "o")]) == 2
    assert orthanc.url in _one_line_error(capsys)
    assert main(["pacs", "pull", "--url", orthanc.url, "--study", "../../etc", "-o", str(tmp_path / "o")]) == 2
    assert "not a valid DICOM Study Instance UID" in _one_line_error(capsys)
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all")
    assert main(["pacs", "push", "--url", orthanc.url, str(bad)]) == 2
    assert "not a readable DICOM file" in _one_line_error(capsys)
    assert main(["pacs", "push", "--url", "ftp://x", str(bad)]) == 2
    assert "not a DICOMweb URL" in _one_line_error(capsys)
