"""Overlap and distance metrics between binary masks, with the conventions for empty masks (Dice and IoU
live in :mod:`tumorscope.predict.overlap`, below evaluation, since ``predict`` reports Dice too)."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from monai.metrics import compute_hausdorff_distance

from tumorscope.predict.overlap import dice, iou  # re-exported: evaluation's metrics are built on them

__all__ = ["dice", "hd95", "iou"]


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
