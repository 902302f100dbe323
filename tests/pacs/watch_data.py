"""What the pacs watch tests share: small real MR series cut from LGG patients, the watcher run as a separate
process (as a site runs it), and what Orthanc holds per study."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

from PIL import Image

from tests.pacs.orthanc import Orthanc
from tumorscope.pacs.convert import to_dicom_series

REPO = Path(__file__).resolve().parents[2]


def tumor_slices(patient: Path, n: int) -> list[int] | None:
    """The numbers of ``n`` consecutive slices of a kaggle_3m patient folder, the first with tumor (None when the
    patient has no tumor or too few slices after it)."""
    def number(p: Path) -> int:
        return int(p.stem.removesuffix("_mask").rsplit("_", 1)[1])

    masks = sorted(patient.glob("*_mask.tif"), key=number)
    first = next((k for k, m in enumerate(masks) if Image.open(m).getbbox() is not None), None)
    if first is None or first + n > len(masks):
        return None
    return [number(m) for m in masks[first:first + n]]


def small_series(kaggle: Path, out: Path, count: int, n_slices: int = 4) -> list[Path]:
    """``count`` DICOM MR series (tumorscope convert, real geometry), each ``n_slices`` slices of another LGG
    patient starting at its first tumor slice; each series is a study of its own."""
    made: list[Path] = []
    for patient in sorted(p for p in kaggle.iterdir() if p.is_dir()):
        numbers = tumor_slices(patient, n_slices)
        if numbers is None:
            continue
        cut = out / "cut" / patient.name
        cut.mkdir(parents=True)
        for k in numbers:
            for suffix in ("", "_mask"):
                shutil.copy(patient / f"{patient.name}_{k}{suffix}.tif", cut)
        to_dicom_series(cut, out / "dicom" / patient.name)
        made.append(out / "dicom" / patient.name)
        if len(made) == count:
            break
    return made


def watch_command(url: str, data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tumorscope", "pacs", "watch", "--url", url, "--data-dir", str(data_dir), *extra]


def run_watch(url: str, data_dir: Path, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``tumorscope pacs watch --url URL --data-dir DIR EXTRA...`` to its end, in its own process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(watch_command(url, data_dir, *extra), capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, env=env)


def status(data_dir: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "tumorscope", "pacs", "status", "--json", "--limit", "1000",
                          "--data-dir", str(data_dir)], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    return json.loads(run.stdout)


def _get(orthanc: Orthanc, path: str) -> object:
    with urllib.request.urlopen(f"{orthanc.http}{path}", timeout=30) as r:
        return json.load(r)


def outputs_per_study(orthanc: Orthanc) -> dict[str, Counter[str]]:
    """For each study (by StudyInstanceUID): how many series of each modality, and ``<modality> instances``."""
    found: dict[str, Counter[str]] = {}
    for series in _get(orthanc, "/series?expand"):  # type: ignore[union-attr]
        study = _get(orthanc, f"/studies/{series['ParentStudy']}")["MainDicomTags"]["StudyInstanceUID"]  # type: ignore[index]
        modality = series["MainDicomTags"].get("Modality", "")
        counts = found.setdefault(study, Counter())
        counts[modality] += 1
        counts[f"{modality} instances"] += len(series["Instances"])
    return found
