"""Is a heatmap right, and is it faithful? Scores for one map (2-D, or 3-D for volumes) against a tumor mask and
against the model.

* pointing game: does the map's maximum fall inside the tumor mask dilated by ``tolerance`` pixels?
* energy in mask: the share of the map's positive mass that lies inside the (undilated) mask;
* deletion / insertion: the model's score (probability scale) as the most-salient pixels are removed
  first (set to 0, the normalised background) or inserted first into a blurred copy; the area under
  each curve over the fraction of pixels changed (deletion: lower = more faithful; insertion: higher).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage

ScoreFn = Callable[[torch.Tensor], np.ndarray]


def tolerance_region(mask: np.ndarray, tolerance: float) -> np.ndarray:
    """The mask grown by ``tolerance`` pixels (Euclidean distance)."""
    mask = np.asarray(mask, dtype=bool)
    if tolerance <= 0 or not mask.any():
        return mask
    return ndimage.distance_transform_edt(~mask) <= tolerance


def pointing_hit(heat: np.ndarray, mask: np.ndarray, tolerance: float = 5) -> bool:
    """True when the map's (first) maximum is inside the tolerance region; a map without positive
    evidence points nowhere and misses."""
    if not np.isfinite(heat).all() or heat.max() <= 0:
        return False
    top = np.unravel_index(int(np.argmax(heat)), heat.shape)
    return bool(tolerance_region(mask, tolerance)[top])


def energy_in_mask(heat: np.ndarray, mask: np.ndarray) -> float:
    """Positive heat inside the mask / all positive heat (0 for a map with no positive evidence)."""
    pos = np.clip(np.nan_to_num(heat), 0, None)
    total = float(pos.sum())
    return float(pos[np.asarray(mask, dtype=bool)].sum() / total) if total > 0 else 0.0


def _rank(heat: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """Each pixel's position when sorted by heat, largest first (ties broken at random)."""
    flat = heat.ravel()
    order = np.lexsort((rng.random(flat.size), -flat))
    rank = np.empty(flat.size, dtype=np.int64)
    rank[order] = np.arange(flat.size)
    return torch.from_numpy(rank.reshape(heat.shape))


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Each channel blurred over its spatial axes (sigma 1/25 of the longest)."""
    sigma = max(x.shape[1:]) / 25
    return torch.from_numpy(ndimage.gaussian_filter(x.numpy(), sigma=(0, *[sigma] * (x.ndim - 1)))).to(x.dtype)


def perturbation_curves(
    score: ScoreFn, x: torch.Tensor, heat: np.ndarray, steps: int = 10, seed: int = 0
) -> dict[str, np.ndarray]:
    """Deletion and insertion curves (``steps`` + 1 scores each) for one (C, H, W) (or (C, Z, Y, X)) network
    input and its (H, W) (or (Z, Y, X)) map at the same resolution; ``score`` maps a batch of inputs to (n,)
    probabilities."""
    rank = _rank(heat, np.random.default_rng(seed))
    n = rank.numel()
    ks = torch.from_numpy(np.round(np.linspace(0, n, steps + 1)).astype(np.int64))
    changed = (rank[None] < ks.reshape(-1, *[1] * rank.ndim))[:, None]  # (S, 1, *spatial): changed at step s
    deleted = torch.where(changed, torch.zeros_like(x)[None], x[None])
    inserted = torch.where(changed, x[None], _blur(x)[None])
    return {"deletion": score(deleted), "insertion": score(inserted)}


def curve_auc(curve: np.ndarray) -> float:
    """Area under a curve sampled evenly over [0, 1]."""
    c = np.asarray(curve, dtype=float)
    return float(np.trapezoid(c, dx=1.0 / (len(c) - 1))) if len(c) > 1 else float(c[0])
