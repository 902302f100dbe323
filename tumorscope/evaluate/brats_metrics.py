"""BraTS metrics of one case: per region (WT/TC/ET) Dice, HD95, lesion-wise scores and volumes.

Conventions (BraTS's, stated in docs/brats.md):

- Dice: both masks empty = 1, exactly one empty = 0 (:func:`tumorscope.predict.overlap.dice`).
- HD95 (MONAI's ``compute_hausdorff_distance``, percentile 95, voxel spacing in mm): both empty = 0, exactly one
  empty = ``max_hd95`` (default 373.13 mm, the diagonal of a 240x240x155 1-mm BraTS volume).
- Lesion-wise (BraTS 2023 style): lesions are the 26-connected components of the ground truth after those closer
  than ``dilation`` voxels are joined (components of the dilated truth); a lesion's prediction is every predicted
  component touching its dilated region; a predicted component touching no dilated lesion is a false positive.
  Components under ``min_lesion_voxels`` (50) in truth and prediction are ignored. The case's lesion-wise Dice
  (HD95) is the sum over lesions of their Dice (HD95) plus 0 (``max_hd95``) per false positive, divided by
  lesions + false positives; no lesion and no false positive = Dice 1, HD95 0. A lesion is detected when some
  predicted component touches its dilated region; sensitivity = detected / lesions (NaN without lesions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from tumorscope.data.brats import REGIONS, LabelScheme, voxel_ml
from tumorscope.evaluate.overlap import dice, hd95

MAX_HD95_MM = 373.13  # sqrt(240^2 + 240^2 + 155^2): BraTS's value when one of the masks is empty
MIN_LESION_VOXELS = 50
DILATION = 3
_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)  # 26-connected


@dataclass(frozen=True)
class LesionRules:
    """The BraTS constants, kept in one place so that a report can state them."""

    max_hd95: float = MAX_HD95_MM
    min_lesion_voxels: int = MIN_LESION_VOXELS
    dilation: int = DILATION

    def to_json(self) -> dict[str, Any]:
        return {"max_hd95_mm": self.max_hd95, "min_lesion_voxels": self.min_lesion_voxels,
                "dilation_voxels": self.dilation, "connectivity": 26}


def bounded_hd95(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, ...], max_hd95: float) -> float:
    """HD95 in mm (numpy-order ``spacing``) with BraTS's empty-mask conventions, on the masks' bounding box."""
    p, t = pred.astype(bool), truth.astype(bool)
    if not p.any() and not t.any():
        return 0.0
    if not p.any() or not t.any():
        return max_hd95
    box = _bounding_box(p | t)
    return min(hd95(p[box], t[box], spacing), max_hd95)


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...]:
    """Slices around the non-zero voxels with a one-voxel margin (so surfaces stay surfaces)."""
    found = ndimage.find_objects(mask.astype(np.uint8))[0]
    assert found is not None
    return tuple(slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(found, mask.shape))


def _components(mask: np.ndarray, min_voxels: int) -> tuple[np.ndarray, list[int]]:
    """26-connected components of ``mask`` and the ids of those with at least ``min_voxels`` voxels."""
    labels, n = ndimage.label(mask, structure=_CONNECTIVITY)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    return labels, [i for i in range(1, n + 1) if sizes[i] >= min_voxels]


def lesion_scores(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, ...], rules: LesionRules) -> dict[str, Any]:
    """Lesion-wise Dice and HD95, lesions, detected lesions, sensitivity and false positives of one region."""
    truth_labels, kept = _components(truth, rules.min_lesion_voxels)
    truth = np.isin(truth_labels, kept)
    pred_labels, pred_kept = _components(pred, rules.min_lesion_voxels)
    grown = ndimage.binary_dilation(truth, structure=_CONNECTIVITY, iterations=rules.dilation) if truth.any() else truth
    regions, n_regions = ndimage.label(grown, structure=_CONNECTIVITY)
    touched = set()
    dices, hds, detected = [], [], 0
    for r in range(1, n_regions + 1):
        area = regions == r
        hits = [c for c in np.unique(pred_labels[area]).tolist() if c in pred_kept]
        touched.update(hits)
        lesion, matched = truth & area, np.isin(pred_labels, hits)
        detected += bool(hits)
        dices.append(dice(matched, lesion))
        hds.append(bounded_hd95(matched, lesion, spacing, rules.max_hd95))
    false_positives = len(set(pred_kept) - touched)
    n = n_regions + false_positives
    return {
        "lesion_dice": float(sum(dices) / n) if n else 1.0,
        "lesion_hd95_mm": float((sum(hds) + rules.max_hd95 * false_positives) / n) if n else 0.0,
        "lesions": n_regions,
        "lesions_detected": detected,
        "lesion_sensitivity": detected / n_regions if n_regions else float("nan"),
        "false_positives": false_positives,
    }


def case_scores(pred_labels: np.ndarray, truth_labels: np.ndarray, spacing_xyz: tuple[float, ...],
                scheme: LabelScheme, rules: LesionRules | None = None) -> dict[str, dict[str, Any]]:
    """Region -> scores for one case; label maps in numpy (Z, Y, X) order, spacing in ITK (x, y, z) order."""
    return {region: region_scores(scheme.region(pred_labels, region), scheme.region(truth_labels, region),
                                  spacing_xyz, rules) for region in REGIONS}


def region_scores(pred: np.ndarray, truth: np.ndarray, spacing_xyz: tuple[float, ...],
                  rules: LesionRules | None = None) -> dict[str, Any]:
    """Dice, HD95, lesion-wise scores and volumes of one region's boolean masks (numpy order, spacing x, y, z)."""
    rules = rules or LesionRules()
    spacing = tuple(reversed(spacing_xyz))
    ml = voxel_ml(spacing_xyz)
    return {
        "dice": dice(pred, truth),
        "hd95_mm": bounded_hd95(pred, truth, spacing, rules.max_hd95),
        **lesion_scores(pred, truth, spacing, rules),
        "truth_ml": float(truth.sum()) * ml,
        "pred_ml": float(pred.sum()) * ml,
    }
