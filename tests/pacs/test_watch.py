"""tumorscope pacs watch against a real Orthanc: an LGG patient converted to a DICOM MR series gets a SEG, an SR
and an overlay series in its own study from one ``--once`` (dciodvfy-clean, the SEG equal to predict's mask),
a CT series with no model is passed over, nothing is stored twice, filters pass series over, ``--deid`` keeps
planted PHI out of every log line, database row and kept file, and a dead or hung server is one clear line."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from tests.conftest import _shared
from tests.pacs.dicomcheck import dciodvfy_errors, seg_frames_by_slice
from tests.pacs.orthanc import Orthanc, _free_port, orthanc_unavailable, running_orthanc
from tests.pacs.phi import NEEDLES, SALT, plant
from tests.pacs.watch_data import outputs_per_study, small_series
from tests.serve.server import Server
from tumorscope.cli import main
from tumorscope.io import read_image
from tumorscope.pacs.convert import to_dicom_series
from tumorscope.pacs.watch import prediction_id

pytestmark = pytest.mark.skipif(orthanc_unavailable() is not None, reason=str(orthanc_unavailable()))
PATIENT = "TCGA_CS_4942_19970222"


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    with running_orthanc(tmp_path_factory.mktemp("pacs")) as server:
        yield server


@pytest.fixture(scope="module")
def mr_series(orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whole LGG patient as a DICOM MR series, and the CT sample, both stored on the server."""
    patient = _shared("lgg_mri_segmentation") / "kaggle_3m" / PATIENT
    folder = tmp_path_factory.mktemp("mr") / "series"
    to_dicom_series(patient, folder)
    ct = next(_shared("dicom_series_sample").rglob("*.dcm")).parent
    assert main(["pacs", "push", "--url", orthanc.url, str(folder), str(ct)]) == 0
    return folder


@pytest.fixture
def watch(capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture):  # type: ignore[no-untyped-def]
    """``tumorscope pacs watch --url URL --data-dir DIR EXTRA...`` in this process: (exit code, all it printed and
    logged). The crash tests (test_watch_crash.py) run it as a process of its own."""
    caplog.set_level(logging.INFO)

    def run(url: str, data_dir: Path, *extra: str) -> tuple[int, str]:
        capsys.readouterr()
        caplog.clear()
        code = main(["pacs", "watch", "--url", url, "--data-dir", str(data_dir), *extra])
        out = capsys.readouterr()
        return code, out.out + out.err + caplog.text

    return run


@pytest.fixture
def status(capsys: pytest.CaptureFixture):  # type: ignore[no-untyped-def]
    """``tumorscope pacs status --json``'s rows."""
    def rows(data_dir: Path) -> list[dict]:
        capsys.readouterr()
        assert main(["pacs", "status", "--json", "--data-dir", str(data_dir)]) == 0
        return json.loads(capsys.readouterr().out)

    return rows


def _study(folder: Path) -> str:
    return str(pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True).StudyInstanceUID)


def _predicted_mask(series: Path, out: Path) -> tuple[np.ndarray, list[Path]]:
    """``tumorscope predict``'s mask of the series and the series' files in the reader's slice order."""
    assert main(["predict", "-i", str(series), "-o", str(out), "--no-dicom"]) == 0
    mask = read_image(out / "mask.nii.gz").array[..., 0] > 0
    return mask, [Path(f) for f in read_image(series).metadata["files"]]


def _assert_seg_is(seg_path: Path, mask: np.ndarray, files: list[Path]) -> None:
    frames = seg_frames_by_slice(hd.seg.segread(seg_path), files)
    assert sorted(frames) == [k for k in range(len(mask)) if mask[k].any()]
    for k, frame in frames.items():
        np.testing.assert_array_equal(frame, mask[k])


def test_once_stores_seg_sr_and_overlay_in_the_study(orthanc: Orthanc, mr_series: Path, tmp_path: Path,
                                                      watch, status) -> None:  # type: ignore[no-untyped-def]
    code, text = watch(orthanc.url, tmp_path / "data", "--once")
    assert code == 0, text
    assert "no segmentation model for modality CT" in text
    mask, files = _predicted_mask(mr_series, tmp_path / "predict")
    n_tumor = int(mask.any(axis=(1, 2)).sum())
    study = _study(mr_series)
    held = outputs_per_study(orthanc)[study]
    assert (held["SEG"], held["SEG instances"], held["SR"], held["SR instances"]) == (1, 1, 1, 1)
    assert (held["OT"], held["OT instances"]) == (1, n_tumor)  # one overlay image per tumor slice
    assert all(set(c) <= {"CT", "CT instances"} for s, c in outputs_per_study(orthanc).items() if s != study)

    rows = status(tmp_path / "data")
    assert [(r["status"], r["modality"], r["model"], r["attempts"]) for r in rows] == [
        ("done", "MR", "lgg-flair-seg", 0)]
    assert rows[0]["result"]["stored"] == 2 + n_tumor and rows[0]["result"]["tumor_found"]

    pulled = tmp_path / "pulled"
    assert main(["pacs", "pull", "--url", orthanc.url, "--study", study, "-o", str(pulled)]) == 0
    by_modality: dict[str, list[Path]] = {}
    for f in sorted(pulled.glob("*.dcm")):
        by_modality.setdefault(pydicom.dcmread(f, stop_before_pixels=True).Modality, []).append(f)
    seg = by_modality["SEG"][0]
    assert str(pydicom.dcmread(seg, stop_before_pixels=True).SeriesInstanceUID) == rows[0]["result"]["seg_series_uid"]
    _assert_seg_is(seg, mask, files)  # the SEG from the PACS is predict's mask, voxel for voxel
    for path in (seg, by_modality["SR"][0], by_modality["OT"][0]):
        assert not dciodvfy_errors(path), path.name

    _assert_in_the_worklist(tmp_path / "data", rows[0], mask, tmp_path)
    assert watch(orthanc.url, tmp_path / "data", "--once")[0] == 0  # nothing new: nothing stored twice
    assert outputs_per_study(orthanc)[study] == held
    assert watch(orthanc.url, tmp_path / "fresh", "--once")[0] == 0  # a new queue stores the same instances again
    assert outputs_per_study(orthanc)[study] == held


def _assert_in_the_worklist(data: Path, row: dict, mask: np.ndarray, tmp_path: Path) -> None:
    """The service on the watcher's data dir lists the series' result in its worklist, and the viewer's mask
    volume is predict's mask."""
    server = Server(data).start()
    try:
        with server.client(server.add_user("carla", "clinician")) as http:
            items = http.get("/v1/predictions").json()["items"]
            pid = prediction_id(row["series_uid"], row["model_version"])
            assert [(i["id"], i["input_kind"], i["finding"]["tumor_found"]) for i in items] == [(pid, "pacs", True)]
            volume = http.get(f"/v1/predictions/{pid}/viewer/mask.nii.gz")
            assert volume.status_code == 200
            (tmp_path / "viewer_mask.nii.gz").write_bytes(volume.content)
    finally:
        server.stop()
    shown = read_image(tmp_path / "viewer_mask.nii.gz").array[..., 0] > 0
    assert shown.sum() == mask.sum()


@pytest.mark.parametrize("rule", ["SeriesDescription=*no such series*", "SliceThickness>100", "Modality=CT"])
def test_filters_pass_series_over(orthanc: Orthanc, mr_series: Path, tmp_path: Path, rule: str,
                                  watch, status) -> None:  # type: ignore[no-untyped-def]
    code, text = watch(orthanc.url, tmp_path / "data", "--once", "--filter", rule)
    assert code == 0, text
    assert status(tmp_path / "data") == []


def test_deid_keeps_planted_phi_out_of_logs_rows_and_files(orthanc: Orthanc, tmp_path: Path,
                                                            watch, status) -> None:  # type: ignore[no-untyped-def]
    kaggle = _shared("lgg_mri_segmentation") / "kaggle_3m"
    series = small_series(kaggle, tmp_path / "phi", 1)[0]
    for f in series.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        plant(ds)
        ds.save_as(f)
    assert main(["pacs", "push", "--url", orthanc.url, str(series)]) == 0
    data = tmp_path / "data"
    code, text = watch(orthanc.url, data, "--once", "--deid", "--salt", SALT, "--filter", "SeriesDescription~phi$")
    assert code == 0, text
    rows = status(data)
    assert [r["status"] for r in rows] == ["done"]
    logs = text.encode()
    kept = [p for p in data.rglob("*") if p.is_file()]
    assert kept and not [n for n in NEEDLES if n in logs]
    assert not [(p.name, n) for p in kept for n in NEEDLES if n in p.read_bytes()]
    assert not [n for n in NEEDLES if n in str(rows).encode()]
    # the outputs joined the original (identified) study, and the de-identified copy predicted the same mask
    pulled = tmp_path / "pulled"
    assert main(["pacs", "pull", "--url", orthanc.url, "--study", _study(series), "-o", str(pulled)]) == 0
    seg = next(f for f in pulled.glob("*.dcm") if pydicom.dcmread(f, stop_before_pixels=True).Modality == "SEG")
    assert str(pydicom.dcmread(seg, stop_before_pixels=True).PatientID) == "PHI-ID-84731"
    mask, files = _predicted_mask(series, tmp_path / "predict")
    _assert_seg_is(seg, mask, files)


@pytest.fixture
def hung_server() -> Iterator[str]:
    """A DICOMweb URL whose server accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/dicom-web"
    stop.set()
    thread.join()
    for s in [*held, listener]:
        s.close()


def test_dead_or_hung_server_is_one_line(hung_server: str, tmp_path: Path, watch) -> None:  # type: ignore[no-untyped-def]
    code, text = watch(f"http://127.0.0.1:{_free_port()}/dicom-web", tmp_path / "a", "--once", "--retries", "1")
    assert code == 2 and "cannot reach the DICOMweb server" in text and "Traceback" not in text
    code, text = watch(hung_server, tmp_path / "b", "--once", "--retries", "1", "--timeout", "1")
    assert code == 2 and "timed out" in text.lower() and "Traceback" not in text


@pytest.mark.parametrize(("extra", "message"), [
    (["--filter", "Colour=red"], "cannot filter series on 'Colour'"),
    (["--model", "brain-mri-tumor-type"], "stores segmentations"),
    (["--deid"], "--deid needs a salt"),
    (["--interval", "0"], "--interval must be positive"),
])
def test_bad_options_are_one_line(tmp_path: Path, extra: list[str], message: str,
                                  capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUMORSCOPE_DEID_SALT", raising=False)
    code = main(["pacs", "watch", "--url", "http://127.0.0.1:9/dicom-web", "--once", "--data-dir",
                 str(tmp_path), *extra])
    assert code == 2 and message in capsys.readouterr().err
