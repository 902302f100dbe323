"""Checks of DICOM outputs shared by the PACS tests: SEG frames by source slice, and dciodvfy's errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest


def seg_frames_by_slice(seg: hd.seg.Segmentation, files: list[Path]) -> dict[int, np.ndarray]:
    """Each SEG frame's pixels keyed by the index of the source slice it references."""
    index = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID): k for k, f in enumerate(files)}
    frames = seg.pixel_array.reshape(-1, seg.Rows, seg.Columns)
    out = {}
    for frame, item in zip(frames, seg.PerFrameFunctionalGroupsSequence):
        uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        out[index[str(uid)]] = frame.astype(bool)
    return out


def dciodvfy_errors(path: Path) -> list[str]:
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy not installed (make services installs dicom3tools)")
    run = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
