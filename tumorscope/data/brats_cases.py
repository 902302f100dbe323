"""The files of one BraTS case (either layout), read the way ``inspect``, ``audit`` and evaluation need them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tumorscope.data.brats import MODALITIES, SCHEMES, LabelScheme
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.io import read_image
from tumorscope.io.nifti_header import checked_header

BRATS_LAYOUTS = ("brats", "msd_brats")


@dataclass(frozen=True)
class Case:
    """One BraTS case: its id, modality -> (file, 4-D channel index or None), segmentation and label scheme."""

    id: str
    modalities: dict[str, tuple[Path, int | None]]
    seg: Path | None
    scheme: LabelScheme

    @classmethod
    def of(cls, sample: Sample) -> Case:
        return cls(str(sample.patient_id), dict(sample.extra["modalities"]),
                   sample.masks[0] if sample.masks else None, SCHEMES[sample.extra["label_scheme"]])

    @property
    def missing(self) -> list[str]:
        return [m for m in MODALITIES if m not in self.modalities]

    @property
    def files(self) -> list[Path]:
        """Every distinct file of the case, segmentation last."""
        files = list(dict.fromkeys(p for p, _ in self.modalities.values()))
        return files + ([self.seg] if self.seg is not None else [])


@dataclass(frozen=True)
class Geometry:
    """What a NIfTI header says about a file's grid: spatial shape (x, y, z), volumes in a 4-D file, affine."""

    shape: tuple[int, ...]
    n_volumes: int
    affine: np.ndarray

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(float(s) for s in np.linalg.norm(self.affine[:3, :3], axis=0))

    def differs_from(self, other: Geometry) -> str | None:
        """A one-line description of how this grid differs from ``other`` (None when they match)."""
        if self.shape != other.shape:
            return f"shape {_xyz(self.shape)} differs from {_xyz(other.shape)}"
        if not np.allclose(self.affine, other.affine, atol=1e-3):
            return f"affine differs (spacing {_xyz(self.spacing)} mm, origin {_xyz(self.affine[:3, 3])})"
        return None


def _xyz(values: tuple[float, ...] | np.ndarray) -> str:
    return "x".join(f"{v:g}" for v in values)


def geometry(path: Path) -> Geometry:
    """The grid of a NIfTI file from its header alone; TumorscopeError naming the file when it cannot be read."""
    header = checked_header(path)
    shape = tuple(int(d) for d in header.get_data_shape())
    return Geometry(shape[:3], int(np.prod(shape[3:], dtype=np.int64)) if len(shape) > 3 else 1,
                    np.asarray(header.get_best_affine(), dtype=float))


def read_labels(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    """A label map as integers in numpy (Z, Y, X) order and its spacing in mm (x, y, z order)."""
    image = read_image(path)
    if image.spatial_ndim != 3 or image.n_channels != 1:
        raise TumorscopeError(f"a label map must be one 3-D volume, got shape {image.array.shape}", path)
    array = image.array[..., 0]
    if not np.issubdtype(array.dtype, np.integer):
        rounded = np.rint(array)
        if not np.array_equal(rounded, array):
            raise TumorscopeError("a label map must hold whole numbers", path)
        array = rounded
    return array.astype(np.int16), tuple(float(s) for s in image.spacing)
