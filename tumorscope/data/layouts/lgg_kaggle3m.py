"""LGG ``kaggle_3m`` (Buda et al.): ``<patient_dir>/<patient_dir>_<n>.tif`` + ``_<n>_mask.tif``.

The root may be the dataset folder holding ``kaggle_3m/``, ``kaggle_3m`` itself, or one patient folder.
Patient id = first 12 characters of the folder name (``TCGA_CS_4942``), as in ``data.csv``. A folder named
``case-`` + 12 hex digits (the pseudonymous cases ``tumorscope feedback export`` writes) is a patient too, its
whole name the patient id.
"""

from __future__ import annotations

import re
from pathlib import Path

from tumorscope.data.sample import Sample

NAME = "lgg_kaggle3m"
_TCGA_DIR = re.compile(r"^TCGA_[A-Z0-9]{2}_[A-Z0-9]{4}_\d{8}$")
_PSEUDONYM = re.compile(r"^case-[0-9a-f]{12}$")
_SLICE = re.compile(r"^(?P<stem>.+)_(?P<n>\d+)\.tiff?$")


def is_patient_dir_name(name: str) -> bool:
    """A TCGA volume folder (``TCGA_CS_4942_19970222``) or a pseudonymous case (``case-`` + 12 hex digits)."""
    return bool(_TCGA_DIR.match(name) or _PSEUDONYM.match(name))


def patient_id(folder_name: str) -> str:
    """The patient of a patient folder: a TCGA folder's first 12 characters, a pseudonym whole."""
    return folder_name[:12] if _TCGA_DIR.match(folder_name) else folder_name


def patient_dirs(root: Path) -> list[Path]:
    if is_patient_dir_name(root.name) and root.is_dir():
        return [root]
    base = root / "kaggle_3m" if (root / "kaggle_3m").is_dir() else root
    return sorted(p for p in base.iterdir() if p.is_dir() and is_patient_dir_name(p.name))


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
        pid = patient_id(pdir.name)
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
