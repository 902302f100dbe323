"""What ``predict`` accepts, read into slices: one image, a folder of slices, a kaggle_3m patient folder,
a DICOM series folder or file, a NIfTI volume."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.io.image import Image

RASTER = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass
class PredictInput:
    """Slices of one input, with how to write results back in the input's family."""

    path: Path
    slices: np.ndarray  # (N, Y, X, C)
    family: str  # "volume" (write NIfTI) or "slices" (write PNG per slice)
    names: list[str]  # one output stem per slice
    volume: Image | None = None  # geometry to write a volume mask with
    truth: np.ndarray | None = None  # (N, Y, X) ground-truth masks when the input carries them

    @property
    def spacing_yx(self) -> tuple[float, float] | None:
        if self.volume is None:
            return None
        sp = self.volume.spacing
        return (float(sp[1]), float(sp[0]))

    @property
    def voxel_volume(self) -> float | None:
        """mm^3 per voxel when the input has real geometry (DICOM / NIfTI), else None."""
        if self.volume is None or not self.volume.metadata.get("has_geometry", True):
            return None
        return float(np.prod(self.volume.spacing))


def _natural_key(p: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def read_input(path: str | Path, series_uid: str | None = None) -> PredictInput:
    """Read any supported input for segmentation/classification prediction."""
    from tumorscope.io import read_image

    path = Path(path)
    if not path.exists():
        raise TumorscopeError("no such file or folder", path)
    if path.is_dir():
        from tumorscope.data.layouts import lgg_kaggle3m

        # a patient folder by its name, but only with slice images in it: a DICOM series may be named the same
        patients = [p for p in lgg_kaggle3m.patient_dirs(path) if any(f.suffix.lower() in RASTER for f in p.iterdir())]
        if len(patients) == 1:
            return _kaggle_patient(patients[0])
        rasters = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in RASTER and not p.stem.endswith("_mask")), key=_natural_key
        )
        if rasters:
            images = [read_image(p) for p in rasters]
            return PredictInput(path, _same_shape_stack(images), "slices", [p.stem for p in rasters])
        return _volume(path, read_image(path, series_uid=series_uid))
    if path.suffix.lower() in RASTER:
        img = read_image(path)
        if img.spatial_ndim == 3:  # a multi-page TIFF is a volume
            return _volume(path, img)
        return PredictInput(path, img.array[None], "slices", [path.stem])
    img = read_image(path)
    if img.spatial_ndim == 2:
        return PredictInput(path, img.array[None], "slices", [path.stem.removesuffix(".nii")], volume=None)
    return _volume(path, img)


def _volume(path: Path, img: Image) -> PredictInput:
    if img.spatial_ndim != 3:
        return PredictInput(path, img.array[None], "slices", [path.stem])
    names = [f"slice_{i:03d}" for i in range(img.array.shape[0])]
    img.metadata.setdefault("has_geometry", True)
    return PredictInput(path, img.array, "volume", names, volume=img)


def _kaggle_patient(pdir: Path) -> PredictInput:
    from tumorscope.data.dataset import load_dataset
    from tumorscope.data.volumes import load_stacks

    samples = load_dataset(pdir, layout="lgg_kaggle3m").samples
    stack = load_stacks(samples, desc="reading patient")[0]
    return PredictInput(pdir, stack.images, "slices", [s.image.stem for s in stack.samples], truth=stack.masks)


def _same_shape_stack(images: list[Image]) -> np.ndarray:
    first = images[0]
    for im in images[1:]:
        if im.array.shape != first.array.shape:
            raise TumorscopeError(
                f"size {im.array.shape} differs from {first.array.shape} ({first.path.name if first.path else ''}); "
                "a folder is read as one volume, so its slices must match",
                im.path,
            )
    return np.stack([im.array for im in images])
