"""Archive prediction on this machine (``--engine local``, no Ray): one folder per case, a summary line per case,
finished cases skipped, a killed run resumed, a corrupt case reported while the others finish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.predict.archive_checks import kill_after_first_case, stamps, summary_rows
from tests.predict.conftest import BAD, PATIENTS
from tumorscope.cli import main
from tumorscope.errors import TumorscopeError
from tumorscope.predict.archive import is_archive, list_cases

REPO = Path(__file__).resolve().parents[2]


def test_cases_of_a_folder_and_of_a_list(tmp_path):
    for name in ("TCGA_AA_0001_20000101", "TCGA_AA_0002_20000101"):
        (tmp_path / "lgg" / name).mkdir(parents=True)
    assert is_archive(tmp_path / "lgg")
    assert [n for n, _ in list_cases(tmp_path / "lgg")] == ["TCGA_AA_0001_20000101", "TCGA_AA_0002_20000101"]
    other = tmp_path / "scans"
    other.mkdir()
    for name in ("b.nii.gz", "a.nii.gz", "notes.txt", ".hidden"):
        (other / name).touch()
    assert not is_archive(other)  # a folder of other cases is an archive only with --engine
    assert [n for n, _ in list_cases(other)] == ["a", "b"]
    listed = tmp_path / "cases.txt"
    listed.write_text("# comment\nscans/a.nii.gz\n\n/elsewhere/c.nii\n")
    assert is_archive(listed)
    assert list_cases(listed) == [("a", str(other / "a.nii.gz")), ("c", "/elsewhere/c.nii")]
    listed.write_text("scans/a.nii.gz\nother/a.nii\n")
    with pytest.raises(TumorscopeError, match="same folder 'a'"):
        list_cases(listed)


def test_bad_case_reported_and_rerun_skips_finished(tiny_seg_run, archive_list, tmp_path, capsys):
    _, run = tiny_seg_run
    out = tmp_path / "out"
    args = ["predict", "--model", str(run), "-i", str(archive_list), "-o", str(out), "--batch-size", "2"]
    assert main(args) == 1  # one case failed
    rows = summary_rows(out)
    assert [rows[p]["status"] for p in PATIENTS] == ["done"] * 3
    assert all(rows[p]["tumor_found"] in ("True", "False") and int(rows[p]["volume_pixels"]) >= 0 for p in PATIENTS)
    assert rows[BAD]["status"] == "error" and not (out / BAD).exists()
    assert f"{BAD}_1.tif: cannot read TIFF" in rows[BAD]["error"] and "\n" not in rows[BAD]["error"]
    assert f"{BAD}: error: " in capsys.readouterr().out
    before = stamps(out, list(PATIENTS))
    assert main(args) == 1
    rows = summary_rows(out)
    assert [rows[p]["status"] for p in PATIENTS] == ["skipped"] * 3  # nothing recomputed...
    assert stamps(out, list(PATIENTS)) == before  # ...nor written again
    assert rows[BAD]["status"] == "error"  # a failed case is tried again
    assert main([*args, "--threshold", "0.9"]) == 1  # other post-processing: the results are not those
    assert {summary_rows(out)[p]["status"] for p in PATIENTS} == {"done"}


def test_killed_run_resumes_and_finishes_each_case_once(tiny_seg_run, archive_list, tmp_path):
    _, run = tiny_seg_run
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tumorscope", "predict", "--model", str(run), "-i", str(archive_list),
           "-o", str(out), "--batch-size", "1"]
    kill_after_first_case(cmd, REPO, out, PATIENTS)
    first = [p for p in PATIENTS if (out / p / "summary.json").exists()]
    assert 0 < len(first) < len(PATIENTS), "the kill should land mid-way"
    assert not (out / "archive.csv").exists()
    before = stamps(out, first)
    done = subprocess.run(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr  # the corrupt case
    rows = summary_rows(out)
    assert {p for p in PATIENTS if rows[p]["status"] == "skipped"} == set(first)
    assert {p for p in PATIENTS if rows[p]["status"] == "done"} == set(PATIENTS) - set(first)
    assert stamps(out, first) == before  # finished before the kill: not written again
    assert sorted(p.name for p in out.iterdir()) == sorted([*PATIENTS, "archive.csv"])  # no temporaries left
