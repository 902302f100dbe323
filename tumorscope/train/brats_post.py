"""Choosing the BraTS post-processing on validation cases, one rule after the other as nnU-Net does: first the
size below which a tumor component is removed (by mean WT Dice), then the ET volume below which a predicted
ET is relabelled to necrotic core (BraTS winners' rule; Isensee et al. 2018 used 500 voxels), by mean ET Dice.
Ties go to the smaller value (the milder rule)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tumorscope.predict.brats_regions import RegionPost, region_dice

ET_CANDIDATES = (0, 50, 100, 200, 300, 500, 750, 1000)  # voxels of the original grid
WT_CANDIDATES = (0, 250, 1000, 2500, 5000, 10000)


def choose_region_post(probs: list[np.ndarray], truths: list[np.ndarray], et: tuple[int, ...] = ET_CANDIDATES,
                       wt: tuple[int, ...] = WT_CANDIDATES) -> tuple[RegionPost, dict[str, Any]]:
    """The rules with the best mean Dice over the validation cases and the search's record. ``probs``:
    (3, Z, Y, X) original-grid probabilities; ``truths``: (3, Z, Y, X) masks."""
    wt_table = _search(probs, truths, [RegionPost(wt_min_voxels=v) for v in wt], "wt_min_voxels", 0)
    wt_min = int(_best(wt_table, "wt_min_voxels")["wt_min_voxels"])
    et_table = _search(probs, truths, [RegionPost(wt_min_voxels=wt_min, et_min_voxels=v) for v in et],
                       "et_min_voxels", 2)
    best = _best(et_table, "et_min_voxels")
    post = RegionPost(et_min_voxels=int(best["et_min_voxels"]), wt_min_voxels=wt_min)
    return post, {"wt_candidates": wt_table, "et_candidates": et_table, "chosen": post.to_dict(),
                  "n_cases": len(probs)}


def _search(probs: list[np.ndarray], truths: list[np.ndarray], posts: list[RegionPost], key: str,
            region: int) -> list[dict[str, Any]]:
    table = []
    for post in posts:
        dice = [float(region_dice(post.masks(p), t)[region]) for p, t in zip(probs, truths)]
        table.append({key: getattr(post, key), "dice_mean": float(np.mean(dice)) if dice else float("nan")})
    return table


def _best(table: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return max(table, key=lambda row: (np.nan_to_num(row["dice_mean"], nan=-1.0), -row[key]))
