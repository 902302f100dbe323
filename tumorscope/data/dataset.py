"""Dataset: the Samples of one folder plus the layout that produced them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tumorscope.data.layouts import layouts
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError


@dataclass
class Dataset:
    root: Path
    layout: str
    samples: list[Sample]

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def has_patients(self) -> bool:
        return any(s.patient_id is not None for s in self.samples)

    @property
    def patients(self) -> list[str]:
        return sorted({s.patient_id for s in self.samples if s.patient_id is not None})

    @property
    def classes(self) -> dict[str, int]:
        return dict(sorted(Counter(s.label for s in self.samples if s.label is not None).items()))

    def by_patient(self) -> dict[str, list[Sample]]:
        """Samples grouped by ``Sample.group``, each group ordered by slice index."""
        groups: dict[str, list[Sample]] = {}
        for s in self.samples:
            groups.setdefault(s.group, []).append(s)
        for g in groups.values():
            g.sort(key=lambda s: (s.slice_index if s.slice_index is not None else -1, str(s.image)))
        return groups


def detect_layout(root: str | Path) -> str:
    """Name of the layout of ``root`` (raises TumorscopeError naming the folder when none fits)."""
    root = Path(root)
    _check_folder(root)
    for module in layouts():
        if module.detect(root):
            return str(module.NAME)
    names = ", ".join(m.NAME for m in layouts())
    raise TumorscopeError(f"no known dataset layout found (known: {names})", root)


def load_dataset(root: str | Path, layout: str | None = None) -> Dataset:
    """Read a dataset folder into Samples, detecting its layout unless one is named."""
    root = Path(root)
    _check_folder(root)
    name = layout or detect_layout(root)
    for module in layouts():
        if module.NAME == name:
            samples = module.load(root)
            if not samples:
                raise TumorscopeError(f"layout {name!r} found no images", root)
            return Dataset(root=root, layout=name, samples=samples)
    raise TumorscopeError(f"unknown layout {name!r}", root)


def _check_folder(root: Path) -> None:
    if not root.exists():
        raise TumorscopeError("no such folder", root)
    if not root.is_dir():
        raise TumorscopeError("is not a folder", root)
    if not any(root.iterdir()):
        raise TumorscopeError("folder is empty", root)
