"""Sample: one record of a dataset, the only thing layouts produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One image of a dataset with what is known about it.

    ``image`` is a file (or a DICOM file of a series); ``masks`` are merged with logical OR;
    ``patient_id`` is None when the dataset publishes none; ``slice_index`` is set for slices of a
    volume; ``split`` is the dataset's own split folder (e.g. ``Training``) if it has one;
    ``boxes`` are (xmin, ymin, xmax, ymax) pixel boxes for box-annotated data.
    """

    image: Path
    label: str | None = None
    masks: tuple[Path, ...] = ()
    patient_id: str | None = None
    slice_index: int | None = None
    split: str | None = None
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def group(self) -> str:
        """The unit that must never straddle a split: the patient when known, else the image."""
        return self.patient_id if self.patient_id is not None else str(self.image)
