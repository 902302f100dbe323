"""A BraTS case as network input: its four modalities (MODALITIES order) read, cropped to the brain's box,
z-scored per channel over the brain and resampled to the plan's spacing, with its WT/TC/ET masks on the same
grid. Prepared cases are cached as ``.npz`` under ``$TUMORSCOPE_CACHE/brats`` (default ``~/.cache/tumorscope``),
keyed by the files (path, size, mtime) and the spacing, so the folds of a CV read each case once."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tumorscope.atomic import atomic_path
from tumorscope.data.brats import MODALITIES, encode_regions
from tumorscope.data.brats_cases import Case, read_labels
from tumorscope.errors import TumorscopeError
from tumorscope.io import Image, read_image
from tumorscope.preprocess.volume_grid import Box, nonzero_box, resize_volume, target_shape, zscore_nonzero


@dataclass
class PreparedCase:
    """One case on the network's grid and what it takes to map predictions back to the original grid."""

    id: str
    images: np.ndarray  # (4, z, y, x) float32, normalised, at ``spacing``
    regions: np.ndarray | None  # (3, z, y, x) uint8 WT/TC/ET, None without a segmentation
    box: Box  # the brain's box in the original (Z, Y, X) grid
    shape: tuple[int, int, int]  # original (Z, Y, X)
    original_spacing: tuple[float, float, float]  # (Z, Y, X) mm
    spacing: tuple[float, float, float]  # the plan's (Z, Y, X) mm
    stats: np.ndarray | None = None  # (4, 2) per-channel brain mean and std of the raw voxels


def check_modalities(case: Case) -> None:
    """One clear error when a case lacks a modality: what is missing and what is present."""
    if case.missing:
        folder = next(iter(case.modalities.values()))[0].parent if case.modalities else None
        raise TumorscopeError(f"case {case.id}: missing modality {', '.join(case.missing)} "
                              f"(present: {', '.join(case.modalities) or 'none'}; the model needs "
                              f"{', '.join(MODALITIES)})", folder)


def read_modalities(case: Case) -> tuple[np.ndarray, tuple[float, float, float], Image]:
    """(4, Z, Y, X) float32 raw voxels in MODALITIES order, the (Z, Y, X) spacing and the image of the first
    file (the geometry a prediction is written with)."""
    check_modalities(case)
    arrays, spacing, shape, first = [], (1.0, 1.0, 1.0), None, None
    for m in MODALITIES:
        path, index = case.modalities[m]
        image = read_image(path)
        if image.spatial_ndim != 3:
            raise TumorscopeError(f"{m} must be a 3-D volume, got shape {image.array.shape}", path)
        array = image.array[..., index or 0].astype(np.float32)
        if shape is None:
            shape, spacing, first = array.shape, tuple(float(s) for s in image.spacing[::-1]), image  # type: ignore[assignment]
        elif array.shape != shape:
            raise TumorscopeError(f"{m} has shape {array.shape}, {MODALITIES[0]} has {shape}", path)
        arrays.append(array)
    assert first is not None
    return np.stack(arrays), spacing, first  # type: ignore[return-value]


def prepare_arrays(images: np.ndarray, spacing: tuple[float, float, float], target: tuple[float, float, float],
                   labels: np.ndarray | None = None, scheme: object = None, case_id: str = "") -> PreparedCase:
    """Crop, normalise and resample raw (4, Z, Y, X) voxels (and an optional label map) to ``target`` spacing."""
    box = nonzero_box(images)
    cropped, stats = zscore_nonzero(images[(slice(None), *box)])
    shape = target_shape(cropped.shape[1:], spacing, target)
    x = resize_volume(torch.from_numpy(cropped), shape).numpy()
    regions = None
    if labels is not None:
        masks = encode_regions(labels[box], scheme)  # type: ignore[arg-type]
        regions = (resize_volume(torch.from_numpy(masks), shape).numpy() >= 0.5).astype(np.uint8)
    return PreparedCase(case_id, x, regions, box, images.shape[1:], spacing, target,  # type: ignore[arg-type]
                        np.array(stats, dtype=np.float64))


def prepare_case(case: Case, target: tuple[float, float, float], cache: bool = True) -> PreparedCase:
    """A case read and prepared at ``target`` spacing (from the cache when it holds it)."""
    path = _cache_file(case, target) if cache else None
    if path is not None and path.is_file():
        with np.load(path) as z:
            box = tuple(slice(int(a), int(b)) for a, b in z["box"])
            return PreparedCase(case.id, z["images"], z["regions"] if z["regions"].size else None, box,  # type: ignore[arg-type]
                                tuple(int(s) for s in z["shape"]), tuple(float(s) for s in z["spacing"]), target,  # type: ignore[arg-type]
                                z["stats"])
    images, spacing, _ = read_modalities(case)
    labels = read_labels(case.seg)[0] if case.seg is not None else None
    prepared = prepare_arrays(images, spacing, target, labels, case.scheme, case.id)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, images=prepared.images, box=np.array([[s.start, s.stop] for s in prepared.box]),
                     regions=prepared.regions if prepared.regions is not None else np.zeros(0, np.uint8),
                     shape=np.array(prepared.shape), spacing=np.array(prepared.original_spacing), stats=prepared.stats if prepared.stats is not None else np.zeros((0, 2)))
    return prepared


def _cache_file(case: Case, target: tuple[float, float, float]) -> Path:
    key = hashlib.sha256()
    for f in case.files:
        st = f.stat()
        key.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}|".encode())
    key.update(repr(tuple(round(t, 4) for t in target)).encode())
    root = Path(os.environ.get("TUMORSCOPE_CACHE") or Path.home() / ".cache" / "tumorscope")
    return root / "brats" / f"{case.id}-{key.hexdigest()[:16]}.npz"
