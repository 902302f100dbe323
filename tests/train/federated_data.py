"""A tiny kaggle_3m dataset whose patients come from two TCGA institutions (``AA`` and ``BB``)."""

from __future__ import annotations

from pathlib import Path

from tests.synthetic import write_kaggle3m


def write_two_sites(root: Path, n_patients: int = 8, n_slices: int = 4, size: int = 32) -> Path:
    """``write_kaggle3m`` with the first half of the patients renamed to site AA, the rest to BB."""
    write_kaggle3m(root, n_patients=n_patients, n_slices=n_slices, size=size)
    base = root / "kaggle_3m"
    for p in range(n_patients):
        old = f"TCGA_XX_{p:04d}_20000101"
        new = old.replace("_XX_", "_AA_" if p < n_patients // 2 else "_BB_")
        for f in (base / old).iterdir():
            f.rename(f.with_name(f.name.replace(old, new)))
        (base / old).rename(base / new)
    return root
