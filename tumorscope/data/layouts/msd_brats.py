"""Medical Segmentation Decathlon Task01_BrainTumour (and its nnU-Net conversions): ``dataset.json`` naming the
four MRI modalities (FLAIR, T1w, t1gd, T2w), ``imagesTr/<case>.nii.gz`` 4-D with one volume per modality (or one
``_000N`` file per channel) and ``labelsTr/<case>.nii.gz``.

Read as the nnU-Net layout reads it, plus ``extra["modalities"]`` (modality -> (file, channel index)) and
``extra["label_scheme"]``: ``msd`` (1 = edema, 2 = non-enhancing, 3 = enhancing tumor), or ``brats2018``
when dataset.json names a label 4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tumorscope.data.brats import MODALITIES, modality
from tumorscope.data.layouts import nnunet
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError

NAME = "msd_brats"


def _modalities(info: dict[str, Any]) -> dict[str, int]:
    """Canonical modality -> channel index from dataset.json (``modality`` of MSD, ``channel_names`` of v2)."""
    names = info.get("channel_names") or info.get("modality") or {}
    if not isinstance(names, dict):
        return {}
    found = {}
    for index, name in names.items():
        if str(index).isdigit() and isinstance(name, str) and (m := modality(name)):
            found[m] = int(index)
    return found


def detect(root: Path) -> bool:
    if not nnunet.detect(root):
        return False
    try:
        return set(_modalities(nnunet.description(root))) == set(MODALITIES)
    except TumorscopeError:  # an unreadable dataset.json is the nnunet layout's error to report
        return False


def _scheme(info: dict[str, Any]) -> str:
    labels = info.get("labels") or {}
    keys = {str(k) for k in labels} | {str(v) for v in labels.values() if isinstance(v, int | str)}
    return "brats2018" if "4" in keys else "msd"


def load(root: Path) -> list[Sample]:
    info = nnunet.description(root)
    channels = _modalities(info)
    scheme = _scheme(info)
    samples = []
    for s in nnunet.load(root):
        files = s.extra["channels"]
        mods: dict[str, tuple[Path, int | None]]
        if len(files) == 1:  # MSD: one 4-D file
            mods = {m: (files[0], channels[m]) for m in MODALITIES}
        else:  # nnU-Net: one file per channel
            mods = {m: (files[channels[m]], None) for m in MODALITIES if channels[m] < len(files)}
        samples.append(Sample(image=s.image, masks=s.masks, patient_id=s.patient_id, split=s.split,
                              extra={**s.extra, "modalities": mods, "label_scheme": scheme}))
    return samples
