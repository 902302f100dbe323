"""Where the real shared datasets live: ``$TUMORSCOPE_DATA`` or ``../shared/data`` beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path | None:
    """The folder holding the shared datasets, or None when there is none."""
    env = os.environ.get("TUMORSCOPE_DATA")
    candidates = [Path(env)] if env else []
    candidates += [_REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


def shared_dataset(name: str) -> Path | None:
    """One shared dataset folder by name (e.g. ``lgg_mri_segmentation``), or None."""
    root = shared_data_dir()
    if root is None or not (root / name).is_dir():
        return None
    return root / name
