"""BUSI (``Dataset_BUSI_with_GT``): ``<class>/<name>.png`` with ``<name>_mask.png``, ``<name>_mask_1.png``...

The root may hold ``Dataset_BUSI_with_GT/`` or be that folder. Every mask of an image goes into
``Sample.masks`` (they are merged with OR; they may differ in size from the image, see the BUSI
SOURCE). Label = class folder (benign/malignant/normal); patient_id None, BUSI publishes none.
Any class-per-folder set of images with ``_mask`` siblings is read the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

from tumorscope.data.layouts.class_folders import image_files, subfolders
from tumorscope.data.sample import Sample

NAME = "busi"
_FOLDER = "Dataset_BUSI_with_GT"
_MASK = re.compile(r"^(?P<stem>.+)_mask(?:_(?P<k>\d+))?$")


def _base(root: Path) -> Path:
    return root / _FOLDER if (root / _FOLDER).is_dir() else root


def _class_samples(class_dir: Path) -> list[Sample]:
    """Images of one class folder with their masks, ordered by name; masks in ``_mask``, ``_mask_1``... order."""
    masks: dict[str, list[tuple[int, Path]]] = {}
    images = []
    for f in image_files(class_dir):
        m = _MASK.match(f.stem)
        if m:
            masks.setdefault(m["stem"], []).append((int(m["k"] or 0), f))
        else:
            images.append(f)
    return [
        Sample(image=f, label=class_dir.name, masks=tuple(p for _, p in sorted(masks.get(f.stem, []))))
        for f in images
    ]


def detect(root: Path) -> bool:
    return any(s.masks for c in subfolders(_base(root)) for s in _class_samples(c))


def load(root: Path) -> list[Sample]:
    return [s for c in subfolders(_base(root)) for s in _class_samples(c)]
