"""Per-lesion numbers of a segmentation (summary.json's ``lesions``): components as count_components finds
them, largest first, with (i, j, k) = (x, y, slice) voxel indices."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from tumorscope.bundle.postprocess import count_components, label_components
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


def test_same_numbers_as_full_volume_ndimage_statistics() -> None:
    """Each lesion's statistics are computed within its own box; they equal scipy.ndimage's full-volume
    maximum and center_of_mass (the previous code path) exactly, for speckled and blobby masks."""
    rng = np.random.default_rng(7)
    for trial in range(12):
        shape = (int(rng.integers(1, 12)), int(rng.integers(8, 60)), int(rng.integers(8, 60)))
        mask = ndimage.binary_opening(rng.random(shape) < rng.uniform(0.2, 0.7)) if trial % 2 else rng.random(shape) < 0.1
        prob = rng.random(shape).astype(np.float32)
        labels, n = label_components(mask)
        if n == 0:
            continue
        index = np.arange(1, n + 1)
        sizes = ndimage.sum_labels(mask, labels, index)
        firsts = [box[0].start for box in ndimage.find_objects(labels)]
        peaks = ndimage.maximum(prob, labels, index)
        centres = ndimage.center_of_mass(mask, labels, index)
        order = sorted(range(n), key=lambda c: (-sizes[c], firsts[c]))
        found = lesions(mask, prob, None, limit=1000)
        assert [f["voxels"] for f in found] == [int(sizes[c]) for c in order]
        assert [f["max_probability"] for f in found] == [round(float(peaks[c]), 6) for c in order]
        assert [f["centroid"] for f in found] == [[round(float(v), 2) for v in centres[c][::-1]] for c in order]
