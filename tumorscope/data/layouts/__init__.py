"""Dataset layouts: each module knows one folder convention and yields Samples.

A layout module defines ``NAME``, ``detect(root) -> bool`` and ``load(root) -> list[Sample]``.
``LAYOUTS`` is tried in order; the first that detects the folder wins.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

_MODULES = ("lgg_kaggle3m", "busi", "tcia_dicom", "msd_brats", "nnunet", "brats_cases", "class_folders")


def layouts() -> list[ModuleType]:
    """The layout modules in detection order (most specific first, class-per-folder last)."""
    found = []
    for name in _MODULES:
        try:
            found.append(import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return found
