"""Per-lesion numbers of a segmentation: the connected components of the final mask (the connectivity of
:func:`~tumorscope.bundle.postprocess.count_components`), largest first, as ``summary.json`` lists them.

Voxel indices are given as ``[i, j, k]`` in the NIfTI voxel grid of the input (the service's viewer volumes,
a volume's ``mask.nii.gz``): a (N, Y, X) mask array ``m[n, y, x]`` is the NIfTI voxel ``(i, j, k) = (x, y, n)``,
so ``k`` is the slice index (a 2-D slice input has k = 0 only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from tumorscope.bundle.postprocess import label_components

MAX_LESIONS = 100  # a speckled mask lists its largest 100; n_components still counts them all


def lesions(mask: np.ndarray, prob: np.ndarray, voxel_volume: float | None,
            limit: int = MAX_LESIONS) -> list[dict[str, Any]]:
    """The components of a (N, Y, X) boolean ``mask``, largest first (ties in scan order: slice, y, x), each
    ``{"id", "voxels", "volume_mm3", "max_probability", "slices": [first_k, last_k], "centroid": [i, j, k]}``;
    ``volume_mm3`` is None without a physical ``voxel_volume`` (mm^3 per voxel)."""
    labels, n = label_components(mask)
    if n == 0:
        return []
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    boxes = ndimage.find_objects(labels)
    order = sorted(range(n), key=lambda c: (-int(sizes[c]), boxes[c][0].start))[:limit]  # type: ignore[index]
    out = []
    for rank, c in enumerate(order, start=1):  # each listed lesion within its own box: no full-volume passes
        box = boxes[c]
        assert box is not None  # every label 1..n has voxels
        inside = labels[box] == c + 1
        size = int(sizes[c])
        # integer coordinate sums are exact: the same centroid as ndimage.center_of_mass, to the last bit
        k, y, x = (round((int(ix.sum()) + s.start * size) / size, 2) for ix, s in zip(np.nonzero(inside), box))
        out.append({
            "id": rank,
            "voxels": size,
            "volume_mm3": float(size * voxel_volume) if voxel_volume is not None else None,
            "max_probability": round(float(prob[box][inside].max()), 6),
            "slices": [int(box[0].start), int(box[0].stop) - 1],
            "centroid": [x, y, k],
        })
    return out
