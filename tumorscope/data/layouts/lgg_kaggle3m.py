"""LGG ``kaggle_3m`` (Buda et al.): ``<patient_dir>/<patient_dir>_<n>.tif`` + ``_<n>_mask.tif``.

The root may be the dataset folder holding ``kaggle_3m/``, ``kaggle_3m`` itself, or one patient folder.
Patient id = first 12 characters of the folder name (``TCGA_CS_4942``), as in ``data.csv``.
"""

from __future__ import annotations

import re
from pathlib import Path

from tumorscope.data.sample import Sample

NAME = "lgg_kaggle3m"
_PATIENT_DIR = re.compile(r"^TCGA_[A-Z0-9]{2}_[A-Z0-9]{4}_\d{8}$")
_SLICE = re.compile(r"^(?P<stem>.+)_(?P<n>\d+)\.tiff?$")


def patient_dirs(root: Path) -> list[Path]:
    if _PATIENT_DIR.match(root.name) and root.is_dir():
        return [root]
    base = root / "kaggle_3m" if (root / "kaggle_3m").is_dir() else root
    return sorted(p for p in base.iterdir() if p.is_dir() and _PATIENT_DIR.match(p.name))


def detect(root: Path) -> bool:
    return bool(patient_dirs(root))


def slice_files(patient_dir: Path) -> list[tuple[int, Path, Path | None]]:
    """(slice number, image, mask or None) of one patient folder, ordered by slice number."""
    out = []
    for f in patient_dir.iterdir():
        m = _SLICE.match(f.name)
        if not m or f.name.endswith("_mask.tif") or m["stem"] != patient_dir.name:
            continue
        mask = f.with_name(f"{patient_dir.name}_{m['n']}_mask.tif")
        out.append((int(m["n"]), f, mask if mask.exists() else None))
    return sorted(out, key=lambda t: t[0])


def load(root: Path) -> list[Sample]:
    from tumorscope.io.mask import mask_is_empty

    samples = []
    for pdir in patient_dirs(root):
        pid = pdir.name[:12]
        for n, image, mask in slice_files(pdir):
            label = None if mask is None else ("no_tumor" if mask_is_empty(mask) else "tumor")
            samples.append(
                Sample(
                    image=image,
                    label=label,
                    masks=(mask,) if mask is not None else (),
                    patient_id=pid,
                    slice_index=n,
                    extra={"volume_id": pdir.name},
                )
            )
    return samples
