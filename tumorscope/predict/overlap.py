"""Overlap between binary masks (Dice, IoU), with the conventions for empty masks: ``predict`` reports it
when the input carries ground truth; evaluation builds its metrics on it (:mod:`tumorscope.evaluate.overlap`)."""

from __future__ import annotations

import numpy as np


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
