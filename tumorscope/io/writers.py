"""``write_image`` and ``write_mask``: NIfTI or PNG, chosen by extension, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.io.formats import suffix
from tumorscope.io.image import Image


def write_image(image: Image, path: str | Path) -> Path:
    """Write ``image`` as NIfTI (.nii, .nii.gz: any dimension, geometry kept) or PNG (.png: 2-D only).

    PNG takes uint8 gray, gray+alpha, RGB, RGBA and uint16 gray. Returns the path written.
    """
    ext = suffix(path)
    if ext in (".nii", ".nii.gz"):
        from tumorscope.io.nifti import write_nifti

        return write_nifti(image, path)
    if ext == ".png":
        from tumorscope.io.raster import write_png

        return write_png(image, path)
    raise TumorscopeError(
        f"cannot write {ext or 'a file without extension'!r}: use .nii, .nii.gz or .png", path
    )


def write_mask(mask: np.ndarray, like: Image, path: str | Path) -> Path:
    """Write a boolean mask shaped like ``like``'s pixels: uint8 0/1 NIfTI with ``like``'s geometry, or 0/255 PNG."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != like.spatial_shape:
        raise ValueError(f"mask shape {mask.shape} differs from the image's {like.spatial_shape}")
    value = 255 if suffix(path) == ".png" else 1
    return write_image(like.with_array(mask.astype(np.uint8)[..., None] * np.uint8(value)), path)
