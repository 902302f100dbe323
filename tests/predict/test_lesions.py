"""Per-lesion numbers of a segmentation (summary.json's ``lesions``): components as count_components finds
them, largest first, with (i, j, k) = (x, y, slice) voxel indices."""

from __future__ import annotations

import numpy as np
import pytest

from tumorscope.bundle.postprocess import count_components
from tumorscope.predict.lesions import lesions


def test_components_largest_first_with_viewer_indices() -> None:
    mask = np.zeros((4, 10, 12), bool)
    mask[1, 2:4, 3:6] = True  # 6 voxels on slice 1
    mask[2, 4, 6] = True  # touches the first one diagonally: the same lesion (full connectivity)
    mask[0:4, 8, 10] = True  # 4 voxels through every slice
    prob = np.where(mask, 0.7, 0.1).astype(np.float32)
    prob[3, 8, 10] = 0.95
    found = lesions(mask, prob, voxel_volume=2.5)
    assert len(found) == count_components(mask) == 2
    big, thin = found
    assert (big["id"], big["voxels"], big["slices"], big["volume_mm3"]) == (1, 7, [1, 2], 17.5)
    ks, ys, xs = np.nonzero(mask[:, :6, :8])
    assert big["centroid"] == pytest.approx([xs.mean(), ys.mean(), ks.mean()], abs=0.01)
    assert big["max_probability"] == pytest.approx(0.7)
    assert (thin["id"], thin["voxels"], thin["slices"], thin["centroid"]) == (2, 4, [0, 3], [10.0, 8.0, 1.5])
    assert thin["max_probability"] == pytest.approx(0.95)


def test_empty_mask_no_spacing_and_the_limit() -> None:
    assert lesions(np.zeros((2, 5, 5), bool), np.zeros((2, 5, 5), np.float32), None) == []
    dots = np.zeros((1, 9, 9), bool)
    dots[0, ::3, ::3] = True  # 9 one-voxel lesions: ties keep the scan order (slice, y, x)
    found = lesions(dots, dots.astype(np.float32), None, limit=4)
    assert len(found) == 4 and all(f["voxels"] == 1 and f["volume_mm3"] is None for f in found)
    assert [f["centroid"] for f in found] == [[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 3.0, 0.0]]
