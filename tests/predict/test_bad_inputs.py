"""Bad input to predict/evaluate: one line naming the file and the problem, exit code 2, no partial output."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image as PILImage

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tumorscope", *args], capture_output=True, text=True, cwd=REPO)


def _assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def _predict_refused(run: Path, inp: Path, out: Path, *needles: str) -> None:
    """predict on ``inp`` fails cleanly (one line naming the problem) and writes nothing."""
    _assert_clean_error(_run("predict", "--model", str(run), "-i", str(inp), "-o", str(out)), *needles)
    assert not out.exists()


def test_wrong_channel_count(tiny_seg_run, tmp_path):
    _, run = tiny_seg_run
    img = tmp_path / "two_channels.png"
    PILImage.fromarray(np.zeros((16, 16, 2), np.uint8), mode="LA").save(img)
    _predict_refused(run, img, tmp_path / "out", "two_channels.png", "channel")


def test_empty_folder(tiny_seg_run, tmp_path):
    _, run = tiny_seg_run
    empty = tmp_path / "empty"
    empty.mkdir()
    _predict_refused(run, empty, tmp_path / "out", "empty")


def test_nan_nifti_volume(tiny_seg_run, tmp_path):
    import nibabel as nib

    _, run = tiny_seg_run
    vol = np.zeros((8, 8, 4), np.float32)
    vol[2, 2, 2] = np.nan
    path = tmp_path / "nan.nii.gz"
    nib.save(nib.Nifti1Image(vol, np.eye(4)), path)
    _predict_refused(run, path, tmp_path / "out", "nan.nii.gz", "NaN")


def test_mask_of_the_wrong_size_in_evaluation(tiny_seg_run, tmp_path):
    import shutil

    root, run = tiny_seg_run
    data = tmp_path / "lgg"
    shutil.copytree(root, data)
    mask = next((data / "kaggle_3m").glob("*/*_1_mask.tif"))
    tifffile.imwrite(mask, np.zeros((10, 12), np.uint8))
    out = tmp_path / "eval"
    _assert_clean_error(_run("evaluate", "--model", str(run), "--data", str(data), "--out", str(out)), mask.name)
    assert not (out / "metrics.json").exists()


def test_unknown_model_name(tmp_path):
    _assert_clean_error(_run("predict", "--model", "no-such-model", "-i", str(tmp_path), "-o", str(tmp_path / "o")),
                        "no-such-model")
