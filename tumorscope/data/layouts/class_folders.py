"""One folder per class: ``<class>/*.png``, or with the dataset's own split ``<split>/<class>/*.png``.

Covers the 4-class brain MRI set (``Training|Testing/<class>/``) and LC25000
(``lung_colon_image_set/colon_image_sets/<class>/``): folders that only wrap a single sub-folder are
descended through. Label = class folder name; ``Sample.split`` = split folder name as written.
Also home of the small file helpers the other 2-D layouts share.
"""

from __future__ import annotations

from pathlib import Path

from tumorscope.data.sample import Sample

NAME = "class_folders"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})
SPLIT_NAMES = frozenset({"train", "training", "val", "valid", "validation", "test", "testing"})
_IGNORED_NAMES = frozenset({"__MACOSX"})


def is_ignored(path: Path) -> bool:
    """Hidden entries (``.ipynb_checkpoints``, ``.DS_Store``, ``._x`` resource forks) and archive debris."""
    return path.name.startswith(".") or path.name in _IGNORED_NAMES


def subfolders(folder: Path) -> list[Path]:
    """Visible sub-folders of ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not is_ignored(p))


def image_files(folder: Path) -> list[Path]:
    """Visible 2-D image files directly in ``folder`` (by suffix, any case), sorted by name."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not is_ignored(p) and p.is_file()
    )


def _base(root: Path) -> Path:
    """Descend through folders that hold no images and a single sub-folder that holds none either."""
    base = root
    while not image_files(base):
        subs = subfolders(base)
        if len(subs) != 1 or image_files(subs[0]):
            break
        base = subs[0]
    return base


def class_dirs(root: Path) -> list[tuple[str | None, Path]]:
    """(split folder name or None, class folder) pairs of the dataset under ``root``."""
    base = _base(root)
    subs = subfolders(base)
    if subs and all(s.name.lower() in SPLIT_NAMES for s in subs):
        return [(s.name, c) for s in subs for c in subfolders(s)]
    return [(None, c) for c in subs]


def detect(root: Path) -> bool:
    return any(image_files(c) for _, c in class_dirs(root))


def load(root: Path) -> list[Sample]:
    return [
        Sample(image=f, label=c.name, split=split) for split, c in class_dirs(root) for f in image_files(c)
    ]
