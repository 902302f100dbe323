"""pacs watch loses nothing and repeats nothing: 20 series with the watcher killed (SIGKILL) 10 times at random
moments while it works, and Orthanc killed and restarted under a running watcher. Each series ends done exactly
once, with exactly one SEG, one SR and one overlay series in its study."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import _shared
from tests.pacs.orthanc import Orthanc, orthanc_unavailable, running_orthanc
from tests.pacs.watch_data import REPO, outputs_per_study, run_watch, small_series, status, watch_command
from tumorscope.cli import main
from tumorscope.pacs.watch import prediction_id

pytestmark = [pytest.mark.skipif(orthanc_unavailable() is not None, reason=str(orthanc_unavailable())),
              pytest.mark.slow]


def _start(orthanc: Orthanc, data: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(watch_command(orthanc.url, data, "--once", *extra), stdout=out,
                                stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                start_new_session=True)


def _wait_for_work(proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> bool:
    """Wait until the watcher queues or finishes a series (True), or ends (False)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "series #" in text or "queued" in text or "took back" in text:
            return True
        time.sleep(0.05)
    return proc.poll() is None


def _assert_each_once(orthanc: Orthanc, data: Path, series: list[Path]) -> None:
    import pydicom

    studies = {str(pydicom.dcmread(next(s.glob("*.dcm")), stop_before_pixels=True).StudyInstanceUID) for s in series}
    rows = status(data)
    assert len(rows) == len(series) and {r["study_uid"] for r in rows} == studies
    assert {r["status"] for r in rows} == {"done"}
    assert len({r["series_uid"] for r in rows}) == len(rows)
    held = outputs_per_study(orthanc)
    for row in rows:
        got = held[row["study_uid"]]
        n_overlays = row["result"]["stored"] - 2
        assert (got["SEG"], got["SEG instances"], got["SR"], got["SR instances"]) == (1, 1, 1, 1), got
        assert (got["OT"], got["OT instances"]) == (1, n_overlays) and n_overlays >= 1, got
        assert (data / "results" / prediction_id(row["series_uid"], row["model_version"]) / "summary.json").is_file()
        assert not (data / "pacs" / str(row["id"])).exists()  # the pulled copy is gone


@pytest.fixture
def orthanc(tmp_path: Path):  # type: ignore[no-untyped-def]
    with running_orthanc(tmp_path) as server:
        yield server


def test_ten_kill_9s_during_twenty_series(orthanc: Orthanc, tmp_path: Path) -> None:
    series = small_series(_shared("lgg_mri_segmentation") / "kaggle_3m", tmp_path / "in", 20)
    assert len(series) == 20
    assert main(["pacs", "push", "--url", orthanc.url, *map(str, series)]) == 0
    data, rng, kills = tmp_path / "data", random.Random(28), 0
    while kills < 10:
        log = tmp_path / f"watch-{kills}.log"
        proc = _start(orthanc, data, log, "--backoff", "0.2")
        if not _wait_for_work(proc, log):
            break  # it finished everything before this kill
        time.sleep(rng.uniform(0.0, 0.8))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    assert kills == 10, "the watcher finished before it was killed 10 times: the test did not test"
    final = run_watch(orthanc.url, data, "--once")
    assert final.returncode == 0, final.stderr
    _assert_each_once(orthanc, data, series)
    assert {r["attempts"] for r in status(data)} == {0}  # a crash is not a failed attempt


def test_orthanc_killed_and_restarted_under_the_watcher(orthanc: Orthanc, tmp_path: Path) -> None:
    series = small_series(_shared("lgg_mri_segmentation") / "kaggle_3m", tmp_path / "in", 6)
    assert main(["pacs", "push", "--url", orthanc.url, *map(str, series)]) == 0
    data, log = tmp_path / "data", tmp_path / "watch.log"
    proc = _start(orthanc, data, log, "--backoff", "0.5", "--retries", "8")
    assert _wait_for_work(proc, log)
    orthanc.restart(signal.SIGKILL, same_port=True, down_s=3.0)
    assert proc.wait(timeout=300) == 0, log.read_text()
    _assert_each_once(orthanc, data, series)
