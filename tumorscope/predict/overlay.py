"""Pictures of predictions: a mask (filled, with its contour) and the ground-truth contour over the image,
or a heatmap blended on it (numpy + Pillow). ``predict`` writes them; explain and report draw with them too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from skimage.segmentation import find_boundaries

from tumorscope.atomic import atomic_path

PRED_FILL = np.array([255, 40, 40], dtype=np.float32)
PRED_EDGE = np.array([255, 230, 0], dtype=np.uint8)
TRUTH_EDGE = np.array([0, 255, 90], dtype=np.uint8)


def display_channel(slice_: np.ndarray) -> np.ndarray:
    """The channel a person reads: FLAIR for 3-channel kaggle_3m slices, else the image itself."""
    return slice_[..., 1] if slice_.shape[-1] == 3 else slice_


def to_display(slice_: np.ndarray) -> np.ndarray:
    """(Y, X[, C]) any dtype -> (Y, X, 3) uint8, contrast-stretched to the 1-99.5th percentiles."""
    a = slice_.astype(np.float32)
    if a.ndim == 3 and a.shape[-1] == 4:
        a = a[..., :3]
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    lo, hi = np.percentile(a, [1, 99.5])
    a = np.clip((a - lo) / max(hi - lo, 1e-6), 0, 1) * 255
    a = a.astype(np.uint8)
    return np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a


def overlay(slice_: np.ndarray, pred: np.ndarray | None, truth: np.ndarray | None = None, alpha: float = 0.35) -> np.ndarray:
    """RGB picture: image, prediction filled red with a yellow contour, ground truth as a green contour."""
    rgb = to_display(slice_)
    if pred is not None and pred.any():
        fill = rgb.astype(np.float32)
        fill[pred] = (1 - alpha) * fill[pred] + alpha * PRED_FILL
        rgb = fill.astype(np.uint8)
        rgb[find_boundaries(pred, mode="inner")] = PRED_EDGE
    if truth is not None and truth.any():
        rgb[find_boundaries(truth, mode="inner")] = TRUTH_EDGE
    return rgb


def heat_overlay(slice_: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """RGB picture of a [0, 1] heatmap (jet colormap) blended on the image."""
    from matplotlib import colormaps

    rgb = to_display(slice_).astype(np.float32)
    h = np.clip(heat, 0, 1)
    colour = colormaps["jet"](h)[..., :3] * 255
    w = alpha * h[..., None] ** 0.5
    return ((1 - w) * rgb + w * colour).astype(np.uint8)


def save_rgb(rgb: np.ndarray, path: Path) -> None:
    """Write an RGB uint8 array as PNG atomically. zlib level 1: 4x faster than Pillow's default 6 for
    about 20% larger files (the same pixels); a service writes one per request."""
    with atomic_path(path) as tmp:
        PILImage.fromarray(rgb).save(tmp, format="PNG", compress_level=1)


REGION_COLOURS = {  # BraTS sub-region -> RGB of its fill in region overlays
    "edema": np.array([40, 200, 60], dtype=np.float32),  # WT \ TC
    "core": np.array([255, 40, 40], dtype=np.float32),  # TC \ ET (necrotic / non-enhancing core)
    "enhancing": np.array([255, 220, 0], dtype=np.float32),  # ET
}


def region_overlay(slice_: np.ndarray, parts: dict[str, np.ndarray], alpha: float = 0.45) -> np.ndarray:
    """RGB picture: the image with each sub-region (``REGION_COLOURS`` name -> boolean mask) filled in its
    colour, each with a contour in the same colour."""
    rgb = to_display(slice_).astype(np.float32)
    for name, mask in parts.items():
        if mask.any():
            colour = REGION_COLOURS[name]
            rgb[mask] = (1 - alpha) * rgb[mask] + alpha * colour
            rgb[find_boundaries(mask, mode="inner")] = colour
    return rgb.astype(np.uint8)
