"""Choosing the BraTS post-processing on validation cases: the ET volume below which a predicted ET is
relabelled to necrotic core (BraTS winners' rule; Isensee et al. 2018 used 500 voxels), by mean ET Dice."""

from __future__ import annotations

from typing import Any

import numpy as np

from tumorscope.predict.brats_regions import RegionPost, region_dice

ET_CANDIDATES = (0, 50, 100, 200, 300, 500, 750, 1000)  # voxels of the original grid


def choose_region_post(probs: list[np.ndarray], truths: list[np.ndarray],
                       candidates: tuple[int, ...] = ET_CANDIDATES) -> tuple[RegionPost, dict[str, Any]]:
    """The candidate with the best mean ET Dice over the validation cases (ties: the smallest threshold) and
    the search's record. ``probs``: (3, Z, Y, X) original-grid probabilities; ``truths``: (3, Z, Y, X) masks."""
    table = []
    for et_min in candidates:
        post = RegionPost(et_min_voxels=et_min)
        dice = [float(region_dice(post.masks(p.copy()), t)[2]) for p, t in zip(probs, truths)]
        table.append({"et_min_voxels": et_min, "et_dice_mean": float(np.mean(dice)) if dice else float("nan")})
    best = max(table, key=lambda row: (row["et_dice_mean"], -row["et_min_voxels"])) if probs else table[0]
    return RegionPost(et_min_voxels=int(best["et_min_voxels"])), {"candidates": table, "chosen": best,
                                                                   "n_cases": len(probs)}
