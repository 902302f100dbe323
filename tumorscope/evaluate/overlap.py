"""Overlap and distance metrics between binary masks, with the conventions for empty masks."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from monai.metrics import compute_hausdorff_distance


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient; both empty = 1, exactly one empty = 0."""
    p, t = pred.astype(bool), truth.astype(bool)
    denom = p.sum() + t.sum()
    if denom == 0:
        return 1.0
    return float(2.0 * np.logical_and(p, t).sum() / denom)


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union; both empty = 1, exactly one empty = 0."""
    p, t = pred.astype(bool), truth.astype(bool)
    union = np.logical_or(p, t).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(p, t).sum() / union)


def hd95(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, ...]) -> float:
    """95th-percentile symmetric Hausdorff distance (MONAI) in the units of ``spacing`` (numpy axis order).

    Both empty = 0; exactly one empty = NaN (undefined; callers report how many).
    """
    p, t = pred.astype(bool), truth.astype(bool)
    if not p.any() and not t.any():
        return 0.0
    if not p.any() or not t.any():
        return float("nan")
    with warnings.catch_warnings():  # MONAI 1.5 warns about its own internal argument on every call
        warnings.filterwarnings("ignore", message=".*always_return_as_numpy.*", category=FutureWarning)
        d = compute_hausdorff_distance(
            torch.from_numpy(p)[None, None], torch.from_numpy(t)[None, None],
            include_background=True, percentile=95, spacing=list(spacing),
        )
    return float(d.item())
