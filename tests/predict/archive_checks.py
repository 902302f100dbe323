"""What the archive tests read back: archive.csv rows and the masks of a finished case."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image


def summary_rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "archive.csv", newline="") as f:
        return {row["case"]: row for row in csv.DictReader(f)}


def masks(case_dir: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted((case_dir / "masks").iterdir())}


def stamps(out: Path, names: list[str]) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of each case's summary.json: unchanged when the case was not written again."""
    return {n: ((s := (out / n / "summary.json").stat()).st_ino, s.st_mtime_ns) for n in names}
