"""BraTS region inference: the WT/TC/ET probabilities of a prepared case (sliding window with Gaussian blending
on the plan's grid), mapped back to the original grid (trilinear upsampling of the probabilities, then pasted
into the brain's box), the post-processing chosen on validation cases, and the BraTS label map."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from tumorscope.data.brats import LabelScheme, decode_regions
from tumorscope.data.brats_volumes import PreparedCase
from tumorscope.predict.volumetric import SlidingWindow, sliding_logits
from tumorscope.preprocess.volume_grid import resize_volume


@dataclass
class RegionPost:
    """Thresholds on the three sigmoid outputs, then (both chosen on validation cases): tumor components (of
    WT, 26-connected) smaller than ``wt_min_voxels`` are removed with everything inside them, and the BraTS
    winners' ET rule: a predicted ET smaller than ``et_min_voxels`` in all is relabelled to the necrotic core
    (it stays in TC). Voxel counts are of the original grid."""

    threshold: float = 0.5
    et_min_voxels: int = 0
    wt_min_voxels: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegionPost:
        return cls(float(d.get("threshold", 0.5)), int(d.get("et_min_voxels", 0)), int(d.get("wt_min_voxels", 0)))

    def masks(self, probs: np.ndarray) -> np.ndarray:
        """(3, Z, Y, X) probabilities -> (3, Z, Y, X) boolean WT/TC/ET masks, nesting enforced."""
        m = probs >= self.threshold
        m[1] &= m[0]
        m[2] &= m[1]
        if self.wt_min_voxels:
            m[:, small_components(m[0], self.wt_min_voxels)] = False
        if self.et_min_voxels and int(m[2].sum()) < self.et_min_voxels:
            m[2] = False
        return m


def small_components(mask: np.ndarray, min_voxels: int) -> np.ndarray:
    """The voxels of ``mask``'s 26-connected components that have fewer than ``min_voxels`` voxels."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    if n == 0:
        return np.zeros(mask.shape, dtype=bool)
    small = np.bincount(labels.ravel()) < min_voxels
    small[0] = False
    return small[labels]


@torch.no_grad()
def plan_probabilities(model: nn.Module, case: PreparedCase, window: SlidingWindow, bf16: bool = True,
                       tta: bool = False) -> torch.Tensor:
    """(3, z, y, x) sigmoid probabilities on the plan's grid; ``tta`` adds the left-right mirrored pass."""
    model.eval()
    x = torch.from_numpy(case.images)[None]
    logits = sliding_logits(model, x, window, bf16)
    probs = torch.sigmoid(logits)
    if tta:
        probs = (probs + torch.sigmoid(sliding_logits(model, x.flip(-1), window, bf16)).flip(-1)) / 2
    return probs[0]


def to_original(probs: torch.Tensor, case: PreparedCase) -> np.ndarray:
    """Plan-grid (3, z, y, x) probabilities -> (3, Z, Y, X) float32 on the case's original grid (0 outside the
    brain's box)."""
    box_shape = tuple(s.stop - s.start for s in case.box)
    out = np.zeros((probs.shape[0], *case.shape), dtype=np.float32)
    out[(slice(None), *case.box)] = resize_volume(probs.float(), box_shape).numpy()
    return out


def label_map(probs: np.ndarray, post: RegionPost, scheme: LabelScheme) -> np.ndarray:
    """Original-grid probabilities -> a label map in ``scheme``'s labels (uint8)."""
    return decode_regions(post.masks(probs), scheme)


def region_dice(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-region Dice of (3, ...) boolean masks; both empty = 1 (the BraTS convention)."""
    p, t = pred.reshape(len(pred), -1).astype(bool), truth.reshape(len(truth), -1).astype(bool)
    inter = (p & t).sum(1)
    total = p.sum(1) + t.sum(1)
    return np.where(total == 0, 1.0, 2 * inter / np.maximum(total, 1))
