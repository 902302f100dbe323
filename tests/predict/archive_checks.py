"""What the archive tests read back (archive.csv rows, the masks of a finished case) and how they kill a run."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
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


def kill_after_first_case(cmd: list[str], repo: Path, out: Path, cases: list[str], timeout: float = 120) -> None:
    """Run ``cmd`` (a ``tumorscope predict`` on an archive) and SIGKILL it as soon as one case is finished."""
    proc = subprocess.Popen(cmd, cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not any((out / p / "summary.json").exists() for p in cases):
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, f"no case finished in {timeout:.0f} s"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
