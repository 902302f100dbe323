"""Synthetic test data written by the tests themselves (one helper, as MONAI's tests do)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from tumorscope.data.phantom import brain_phantom


def write_kaggle3m(root: Path, n_patients: int = 6, n_slices: int = 4, size: int = 64) -> Path:
    """A tiny LGG kaggle_3m dataset: ``root/kaggle_3m/TCGA_XX_000N_20000101/…_<n>.tif`` + ``_mask.tif``.

    Every other patient has a lesion; the rest are tumor-free."""
    base = root / "kaggle_3m"
    for p in range(n_patients):
        vol, lesion = brain_phantom(n_slices, size=size, seed=p)
        if p % 2:
            lesion[:] = False
            vol[..., 1] = np.minimum(vol[..., 1], 140)
        name = f"TCGA_XX_{p:04d}_20000101"
        d = base / name
        d.mkdir(parents=True)
        for i in range(n_slices):
            tifffile.imwrite(d / f"{name}_{i + 1}.tif", vol[i])
            tifffile.imwrite(d / f"{name}_{i + 1}_mask.tif", (lesion[i] * 255).astype(np.uint8))
    return root
