"""BraTS case folders: ``<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz`` at any depth below the root.

The 2018-2023 spellings are all read: ``_`` or ``-`` before the tag, ``t1ce``/``t1c``, ``t1``/``t1n``,
``t2``/``t2w``, ``flair``/``t2f`` (see :mod:`tumorscope.data.brats`). A file belongs to a case when its
name is the folder's name, a separator and a tag. One Sample per case: image = the first modality present
(flair, t1, t1ce, t2 order), masks = (seg,), patient_id = case, ``extra["modalities"]`` = modality -> (file,
None), ``extra["label_scheme"]`` = ``brats2023`` for folders spelled the 2023 way, else ``brats2018``.
"""

from __future__ import annotations

import os
from pathlib import Path

from tumorscope.data.brats import MODALITIES, NEW_NAMES, modality, nifti_stem
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError

NAME = "brats"


def _tag(path: Path) -> str | None:
    """The tag (``t1ce``, ``seg``...) of a file named ``<folder><sep><tag>.nii[.gz]``, else None."""
    stem, case = nifti_stem(path), path.parent.name
    if stem is None or len(stem) <= len(case) + 1 or not stem.startswith(case) or stem[len(case)] not in "_-":
        return None
    tag = stem[len(case) + 1:].lower()
    return tag if tag == "seg" or modality(tag) else None


def _case_folders(root: Path) -> dict[Path, dict[str, Path]]:
    """Case folder -> tag -> file, for every folder below ``root`` holding at least one tagged file."""
    cases: dict[Path, dict[str, Path]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if not name.startswith(".") and (tag := _tag(path)) is not None:
                cases.setdefault(Path(folder), {})[tag] = path
    return cases


def detect(root: Path) -> bool:
    return any(len(tags) >= 2 for tags in _case_folders(root).values())


def load(root: Path) -> list[Sample]:
    samples = []
    for folder, tags in sorted(_case_folders(root).items()):
        found: dict[str, Path] = {}
        for tag, path in tags.items():
            if tag == "seg":
                continue
            canonical = modality(tag)
            assert canonical is not None  # _tag keeps modalities and seg only
            if canonical in found:
                raise TumorscopeError(f"two files for modality {canonical} ({found[canonical].name})", path)
            found[canonical] = path
        ordered = {m: found[m] for m in MODALITIES if m in found}
        seg = tags.get("seg")
        image = next(iter(ordered.values()), seg)
        assert image is not None
        samples.append(
            Sample(
                image=image,
                masks=(seg,) if seg is not None else (),
                patient_id=folder.name,
                extra={
                    "modalities": {m: (p, None) for m, p in ordered.items()},
                    "channels": tuple(ordered.values()),
                    "label_scheme": "brats2023" if NEW_NAMES & set(tags) else "brats2018",
                },
            )
        )
    return samples
