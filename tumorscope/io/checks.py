"""Checks every reader applies to what it returns: sane geometry and finite pixels.

A reader that hands over NaN spacing, a zero or negative pixel size, or an orientation whose axes
are parallel produces a prediction that dies much later (``Could not decompose affine``) or a
negative tumour volume; here they are refused at the boundary, naming the file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.io.image import Image

# |det| of a unit-column direction matrix below this means (nearly) parallel or missing axes.
_MIN_ORIENTATION_DET = 1e-3


def check_spacing(spacing: Sequence[float], path: Path | None, what: str = "pixel spacing") -> tuple[float, ...]:
    """``spacing`` as floats when every value is finite and > 0; TumorscopeError otherwise."""
    values = tuple(float(v) for v in spacing)
    if not all(math.isfinite(v) and v > 0 for v in values):
        shown = ", ".join(f"{v:g}" for v in values)
        raise TumorscopeError(f"{what} must be finite and positive, got ({shown})", path)
    return values


def check_direction(direction: Sequence[float] | np.ndarray, dim: int, path: Path | None) -> None:
    """Refuse a direction matrix with non-finite values or degenerate (zero, parallel) axes."""
    matrix = np.asarray(direction, dtype=float).reshape(dim, dim)
    if not np.isfinite(matrix).all():
        raise TumorscopeError("orientation contains NaN or infinite values", path)
    norms = np.linalg.norm(matrix, axis=0)
    if (norms < 1e-6).any():
        raise TumorscopeError("orientation has an axis of length 0 (degenerate orientation)", path)
    if abs(float(np.linalg.det(matrix / norms))) < _MIN_ORIENTATION_DET:
        raise TumorscopeError("orientation axes are parallel (degenerate orientation)", path)


def check_origin(origin: Sequence[float], path: Path | None) -> None:
    if not all(math.isfinite(float(v)) for v in origin):
        raise TumorscopeError("image position (origin) contains NaN or infinite values", path)


def check_finite(array: np.ndarray, path: Path | None, what: str = "pixel") -> None:
    """Refuse float pixels that are NaN or infinite (policy: such images are refused, not repaired)."""
    if array.dtype.kind not in "fc":
        return
    finite = np.isfinite(array)
    if not finite.all():
        n_bad = int(finite.size - np.count_nonzero(finite))
        raise TumorscopeError(f"contains {n_bad} NaN or infinite {what} value(s)", path)


def check_image(image: Image, path: Path | None = None) -> Image:
    """``image`` unchanged when its geometry and pixels pass the checks above; TumorscopeError otherwise."""
    where = path if path is not None else image.path
    if 0 in image.array.shape:
        raise TumorscopeError(f"image has an axis of length 0 (shape {image.array.shape})", where)
    check_spacing(image.spacing, where)
    check_origin(image.origin, where)
    check_direction(image.direction, image.spatial_ndim, where)
    check_finite(image.array, where, "voxel" if image.spatial_ndim == 3 else "pixel")
    return image
