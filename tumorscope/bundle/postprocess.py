"""nnU-Net-style post-processing of binary masks: drop small components, fill holes.

It lives with the bundle because every segmentation bundle carries its own (``postprocessing`` in
config.json); predict, evaluate and train apply it through :attr:`Bundle.postprocess`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy import ndimage


@dataclass
class PostProcess:
    """Threshold a probability map, then optionally drop components and fill holes (3-D connectivity)."""

    threshold: float = 0.5
    min_size: int = 0  # components smaller than this many pixels/voxels are removed
    fill_holes: bool = False
    tta: bool = False  # horizontal-flip test-time augmentation (used by the predictor)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PostProcess:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def __call__(self, prob: np.ndarray) -> np.ndarray:
        mask = prob >= self.threshold
        if self.min_size > 0 and mask.any():
            mask = remove_small_components(mask, self.min_size)
        if self.fill_holes and mask.any():
            mask = fill_holes_per_slice(mask)
        return mask


def remove_small_components(mask: np.ndarray, min_size: int) -> np.ndarray:
    """Drop connected components (full connectivity) with fewer than ``min_size`` elements.

    Hand-written on purpose: MONAI's ``RemoveSmallObjects`` defers to scikit-image's
    ``remove_small_objects``, whose rule for a component of exactly ``min_size`` changed in scikit-image 0.26
    (kept before, removed since), so the bundles' masks would depend on the installed version; here a
    component of ``min_size`` elements is always kept (tests/bundle/test_postprocess.py shows the two agree
    on every other component)."""
    labels, n = label_components(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size
    keep[0] = False
    return keep[labels]


def fill_holes_per_slice(mask: np.ndarray) -> np.ndarray:
    """Fill enclosed holes in each 2-D slice of a (…, Y, X) mask (MONAI ``FillHoles``; a hole is background
    that no 4-connected path links to the slice's edge, as in ``scipy.ndimage.binary_fill_holes``)."""
    from monai.transforms import FillHoles

    fill = FillHoles(connectivity=1)
    slices = mask.reshape(-1, *mask.shape[-2:])
    # FillHoles edits its input in place and reads a (C, Y, X) array with C > 1 as one-hot: one slice at a time
    filled = [np.asarray(fill(s[None].copy()))[0] for s in slices]
    return np.stack(filled).astype(bool).reshape(mask.shape)


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components with full connectivity (diagonal neighbours too): (labels 1..n, n)."""
    labels, n = ndimage.label(mask, structure=np.ones((3,) * mask.ndim))
    return labels, int(n)


def count_components(mask: np.ndarray) -> int:
    return label_components(mask)[1]
