"""nnU-Net (v1/v2) raw datasets and the Medical Segmentation Decathlon they derive from.

``dataset.json`` + ``imagesTr/<case>_0000.nii.gz`` (one file per channel ``_0000``, ``_0001``...) +
``labelsTr/<case>.nii.gz``; the MSD variant names images ``imagesTr/<case>.nii.gz`` with no channel suffix
(several modalities live in one 4-D file). One Sample per case: image = first channel file,
``extra["channels"]`` = all channel files, masks = (label file,), patient_id = case id,
split = ``train`` for imagesTr and ``test`` for imagesTs (which has no labels).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tumorscope.data.layouts.class_folders import is_ignored
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError

NAME = "nnunet"
_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<ch>\d{4})$")


def detect(root: Path) -> bool:
    return (root / "dataset.json").is_file() and (root / "imagesTr").is_dir()


def description(root: Path) -> dict[str, Any]:
    path = root / "dataset.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TumorscopeError(f"cannot read dataset.json ({exc})", path) from exc
    if not isinstance(info, dict):
        raise TumorscopeError("dataset.json is not a JSON object", path)
    return info


def _stems(folder: Path, ending: str) -> dict[str, Path]:
    """File name without ``ending`` -> file, for the visible files of ``folder`` ending so."""
    if not folder.is_dir():
        return {}
    files = sorted(
        f for f in folder.iterdir() if f.name.endswith(ending) and not is_ignored(f) and f.is_file()
    )
    return {f.name[: -len(ending)]: f for f in files}


def _uses_channel_suffix(stems: dict[str, Path], labels: dict[str, Path]) -> bool:
    """nnU-Net naming (``<case>_0000``) unless some image is named exactly like a label (MSD)."""
    return bool(stems) and all(_CHANNEL.match(s) for s in stems) and not any(s in labels for s in stems)


def _cases(stems: dict[str, Path], suffixed: bool, n_channels: int) -> dict[str, list[Path]]:
    """Case id -> channel files in channel order; checks that channels run 0..n-1 without gaps."""
    if not suffixed:
        return {s: [f] for s, f in stems.items()}
    channels: dict[str, dict[int, Path]] = {}
    for stem, f in stems.items():
        m = _CHANNEL.match(stem)
        assert m is not None  # guaranteed by _uses_channel_suffix
        channels.setdefault(m["case"], {})[int(m["ch"])] = f
    for case, chans in channels.items():
        expected = list(range(n_channels or len(chans)))
        if sorted(chans) != expected:
            first = chans[min(chans)]
            raise TumorscopeError(
                f"case {case!r} has channels {sorted(chans)}, expected {expected} (from dataset.json)", first
            )
    return {case: [chans[c] for c in sorted(chans)] for case, chans in channels.items()}


def load(root: Path) -> list[Sample]:
    info = description(root)
    ending = str(info.get("file_ending", ".nii.gz"))
    n_channels = len(info.get("channel_names") or info.get("modality") or {})
    labels = _stems(root / "labelsTr", ending)
    images = {"train": _stems(root / "imagesTr", ending), "test": _stems(root / "imagesTs", ending)}
    suffixed = _uses_channel_suffix(images["train"] or images["test"], labels)
    samples = []
    for split, stems in images.items():
        for case, files in _cases(stems, suffixed, n_channels).items():
            mask = labels.get(case) if split == "train" else None
            samples.append(
                Sample(
                    image=files[0],
                    masks=(mask,) if mask is not None else (),
                    patient_id=case,
                    split=split,
                    extra={"channels": tuple(files)},
                )
            )
    return samples
