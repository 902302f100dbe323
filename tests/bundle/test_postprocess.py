"""Mask post-processing, and that it matches MONAI's transforms on random masks."""

import numpy as np
import pytest
from scipy import ndimage

from tumorscope.bundle.postprocess import (
    PostProcess,
    count_components,
    fill_holes_per_slice,
    remove_small_components,
)


def test_small_components_removed_large_kept():
    m = np.zeros((2, 20, 20), bool)
    m[0, 2:10, 2:10] = True  # 64
    m[1, 15, 15] = True  # 1
    out = remove_small_components(m, 10)
    assert out[0].sum() == 64 and out[1].sum() == 0
    assert count_components(m) == 2 and count_components(out) == 1


def test_fill_holes_per_slice():
    m = np.zeros((1, 9, 9), bool)
    m[0, 2:7, 2:7] = True
    m[0, 4, 4] = False
    assert fill_holes_per_slice(m)[0, 4, 4]


def test_postprocess_thresholds_and_round_trips():
    prob = np.zeros((1, 10, 10), np.float32)
    prob[0, 2:8, 2:8] = 0.7
    prob[0, 0, 0] = 0.9
    pp = PostProcess(threshold=0.6, min_size=5)
    mask = pp(prob)
    assert mask.sum() == 36 and not mask[0, 0, 0]
    assert PostProcess.from_dict(pp.to_dict()) == pp


def _random_masks(n: int = 60):
    rng = np.random.default_rng(0)
    for _ in range(n):
        shape = (int(rng.integers(1, 5)), int(rng.integers(6, 30)), int(rng.integers(6, 30)))
        yield rng.random(shape) < rng.uniform(0.15, 0.7), int(rng.integers(2, 25))


def test_fill_holes_equals_scipy_per_slice_on_random_masks():
    """fill_holes_per_slice runs MONAI's FillHoles; it gives scipy's 2-D binary_fill_holes mask exactly."""
    for mask, _ in _random_masks():
        before = mask.copy()
        expected = np.stack([ndimage.binary_fill_holes(s) for s in mask])
        assert np.array_equal(fill_holes_per_slice(mask), expected)
        assert np.array_equal(mask, before)  # the input is left alone
    assert np.array_equal(fill_holes_per_slice(before[0]), ndimage.binary_fill_holes(before[0]))  # one 2-D slice


@pytest.mark.filterwarnings("ignore")
def test_remove_small_components_agrees_with_monai_away_from_the_size_boundary():
    """MONAI's RemoveSmallObjects (scikit-image) gives the same mask for every component not of exactly
    min_size elements; that one case depends on the scikit-image version, hence the hand-written code."""
    from monai.transforms import RemoveSmallObjects

    compared = 0
    for mask, min_size in _random_masks():
        labels, _ = ndimage.label(mask, structure=np.ones((3, 3, 3)))
        if (np.bincount(labels.ravel())[1:] == min_size).any():
            continue
        theirs = np.asarray(RemoveSmallObjects(min_size=min_size, connectivity=3)(mask[None]))[0].astype(bool)
        assert np.array_equal(remove_small_components(mask, min_size), theirs)
        compared += 1
    assert compared >= 20


def test_component_of_exactly_min_size_is_kept():
    m = np.zeros((1, 10, 10), bool)
    m[0, 1:3, 1:3] = True  # 4 pixels
    assert remove_small_components(m, 4).sum() == 4 and remove_small_components(m, 5).sum() == 0
