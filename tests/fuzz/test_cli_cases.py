"""Hostile inputs through the real command (``python -m tumorscope``): exit 2 and one stderr line naming
the file, library warnings kept out of it, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile

from tests.fuzz.corpus import nifti_claiming, nifti_with, set_dicom_raw
from tests.io.conftest import write_dicom_slice, write_series
from tests.synthetic import write_kaggle3m

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str | bytes, debug: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tumorscope", *(["--debug"] if debug else []), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""}
    return subprocess.run(cmd, capture_output=True, cwd=REPO, env=env, timeout=300)


def _clean_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    stderr = proc.stderr.decode("utf-8")  # must be valid UTF-8 whatever the file names
    lines = stderr.strip().splitlines()
    assert proc.returncode == 2, stderr
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def _predict(inp: Path | bytes, out: Path) -> subprocess.CompletedProcess:
    return _run("predict", "--model", "lgg-flair-seg", "-i", inp, "-o", str(out))


def test_predict_refuses_dicom_with_pixel_data_shorter_than_declared(tmp_path: Path) -> None:
    path = write_dicom_slice(tmp_path / "cut.dcm", np.ones((64, 64), np.uint16), series_uid="1.2.3")
    path.write_bytes(path.read_bytes()[:-100])
    _clean_error(_predict(path, tmp_path / "out"), "cut.dcm", "PixelData holds")
    assert not (tmp_path / "out").exists()


def test_predict_refuses_degenerate_nifti_and_size_bomb(tmp_path: Path) -> None:
    bad = nifti_with(tmp_path / "flat.nii.gz", np.ones((16, 16, 3), np.int16), sform_code=1, qform_code=0,
                     srow_x=[1, 0, 0, 0], srow_y=[1, 0, 0, 0], srow_z=[0, 0, 1, 0])
    _clean_error(_predict(bad, tmp_path / "out"), "flat.nii.gz", "degenerate")
    bomb = nifti_claiming(tmp_path / "bomb.nii", (2000, 2000, 600), payload=128 * 1024)
    _clean_error(_predict(bomb, tmp_path / "out"), "bomb.nii", "TUMORSCOPE_MAX")
    assert not (tmp_path / "out").exists()


def test_predict_refuses_a_patient_folder_with_a_slice_of_another_size(tmp_path: Path) -> None:
    root = write_kaggle3m(tmp_path / "lgg", n_patients=1, n_slices=3, size=32)
    patient = next((root / "kaggle_3m").iterdir())
    odd = patient / f"{patient.name}_2.tif"
    tifffile.imwrite(odd, np.zeros((20, 20, 3), np.uint8))
    tifffile.imwrite(patient / f"{patient.name}_2_mask.tif", np.zeros((20, 20), np.uint8))
    _clean_error(_predict(patient, tmp_path / "out"), odd.name, "differs")


def test_inspect_reports_malformed_dicom_values_in_one_line_without_warnings(tmp_path: Path) -> None:
    write_series(tmp_path / "data" / "P1" / "s1", n=3, shape=(6, 6))
    victim = tmp_path / "data" / "P1" / "s1" / "IM0002.dcm"
    set_dicom_raw(victim, "InstanceNumber", b"abc")  # pydicom warns about the value before we refuse it
    _clean_error(_run("datasets", "inspect", str(tmp_path / "data")), "IM0002.dcm", "InstanceNumber")
    debug = _run("datasets", "inspect", str(tmp_path / "data"), debug=True)
    assert debug.returncode == 2 and b"Traceback" in debug.stderr


def test_non_utf8_names_print_escaped(tmp_path: Path) -> None:
    folder = os.path.join(os.fsencode(tmp_path), b"caf\xe9")
    os.mkdir(folder)
    bad = os.path.join(folder, b"x.nii.gz")
    with open(bad, "wb") as f:
        f.write(b"\x1f\x8b broken gzip")
    line = _clean_error(_predict(bad, tmp_path / "out"), "caf\\xe9", "x.nii.gz")
    assert "NIfTI" in line


@pytest.mark.slow
def test_classification_of_a_folder_with_non_utf8_names_writes_a_utf8_csv(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    images = tmp_path / "imgs"
    images.mkdir()
    PILImage.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(os.fsdecode(os.path.join(os.fsencode(images), b"caf\xe9.png")))
    PILImage.fromarray(np.full((32, 32, 3), 30, np.uint8)).save(images / "plain.png")
    out = os.path.join(os.fsencode(tmp_path), b"out\xe9")
    proc = _run("predict", "--model", "brain-mri-tumor-type", "-i", str(images), "-o", out)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    csv = (Path(os.fsdecode(out)) / "predictions.csv").read_text(encoding="utf-8")
    assert "caf\\xe9.png" in csv and "plain.png" in csv
    proc.stdout.decode("utf-8")


def test_nan_volume_refused_through_inspect_of_nnunet(tmp_path: Path) -> None:
    from tests.synthetic import write_nnunet

    root = write_nnunet(tmp_path / "nn", n_cases=2, shape=(4, 8, 8))
    label = sorted((root / "labelsTr").iterdir())[0]
    vol = np.zeros((8, 8, 4), np.float32)
    vol[1, 1, 1] = np.nan
    nib.save(nib.Nifti1Image(vol, np.eye(4)), label)
    proc = _run("datasets", "inspect", str(root))
    assert proc.returncode == 0, proc.stderr  # inspect lists unreadable masks instead of failing
    assert b"NaN" in proc.stdout + proc.stderr


def test_names_over_255_bytes_are_clean_errors(tmp_path: Path) -> None:
    long_dir = tmp_path / ("x" * 300)
    _clean_error(_run("datasets", "inspect", str(long_dir)), "x" * 300, "File name too long")
