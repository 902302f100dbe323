"""BraTS metrics on tiny volumes: Dice/HD95 empty-mask conventions, lesion-wise matching, volumes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.synthetic import brats_labels
from tumorscope.data.brats import SCHEMES
from tumorscope.evaluate.brats_metrics import (
    MAX_HD95_MM,
    LesionRules,
    bounded_hd95,
    case_scores,
    lesion_scores,
)

BRATS = SCHEMES["brats2018"]


def _cube(shape: tuple[int, ...], corner: tuple[int, int, int], size: int) -> np.ndarray:
    m = np.zeros(shape, bool)
    z, y, x = corner
    m[z:z + size, y:y + size, x:x + size] = True
    return m


def test_identical_label_maps_score_perfectly() -> None:
    labels = brats_labels()
    scores = case_scores(labels, labels, (1.0, 1.0, 1.0), BRATS)
    for region in ("WT", "TC", "ET"):
        s = scores[region]
        assert (s["dice"], s["hd95_mm"], s["lesion_dice"], s["lesion_hd95_mm"]) == (1.0, 0.0, 1.0, 0.0)
        assert (s["lesions"], s["lesions_detected"], s["false_positives"]) == (1, 1, 0)
    assert scores["ET"]["truth_ml"] == pytest.approx(4 * 4 * 6 / 1000)


def test_both_empty_et_is_dice_1_hd95_0() -> None:
    labels = brats_labels(et=False)
    et = case_scores(labels, labels, (1.0, 1.0, 1.0), BRATS)["ET"]
    assert (et["dice"], et["hd95_mm"], et["lesion_dice"], et["lesion_hd95_mm"]) == (1.0, 0.0, 1.0, 0.0)
    assert et["lesions"] == 0 and math.isnan(et["lesion_sensitivity"]) and et["truth_ml"] == 0


def test_one_empty_et_is_dice_0_and_the_stated_maximum() -> None:
    with_et, without = brats_labels(), brats_labels(et=False)
    missed = case_scores(without, with_et, (1.0, 1.0, 1.0), BRATS)["ET"]  # prediction misses ET
    assert (missed["dice"], missed["hd95_mm"]) == (0.0, MAX_HD95_MM)
    assert (missed["lesions"], missed["lesions_detected"], missed["lesion_sensitivity"]) == (1, 0, 0.0)
    assert missed["lesion_hd95_mm"] == MAX_HD95_MM
    invented = case_scores(with_et, without, (1.0, 1.0, 1.0), BRATS)["ET"]  # ET where there is none (96 voxels)
    assert (invented["dice"], invented["hd95_mm"], invented["false_positives"]) == (0.0, MAX_HD95_MM, 1)
    assert (invented["lesion_dice"], invented["lesion_hd95_mm"]) == (0.0, MAX_HD95_MM)
    # the rest of the tumor core is labelled 1 in both, so TC is still perfect whichever way ET is missed
    assert case_scores(without, with_et, (1.0, 1.0, 1.0), BRATS)["TC"]["dice"] == 1.0


def test_shifted_cube_dice_and_hd95_in_mm() -> None:
    truth = _cube((20, 20, 20), (5, 5, 5), 8)
    pred = np.roll(truth, 1, axis=2)  # one voxel along x
    scores = lesion_scores(pred, truth, (1.0, 1.0, 2.0), LesionRules())
    assert scores["lesion_dice"] == pytest.approx(2 * 7 / 16)
    assert bounded_hd95(pred, truth, (1.0, 1.0, 2.0), MAX_HD95_MM) == pytest.approx(2.0)  # x spacing 2 mm
    assert bounded_hd95(pred, truth, (1.0, 1.0, 1.0), 50.0) == pytest.approx(1.0)


def test_lesion_wise_missed_lesion_and_false_positive() -> None:
    shape = (30, 30, 30)
    truth = _cube(shape, (1, 1, 1), 5) | _cube(shape, (20, 20, 20), 5)  # two lesions, 125 voxels each
    pred = _cube(shape, (1, 1, 1), 5) | _cube(shape, (1, 20, 20), 5)  # the first found, one false positive
    rules = LesionRules(max_hd95=100.0)
    s = lesion_scores(pred, truth, (1.0, 1.0, 1.0), rules)
    assert (s["lesions"], s["lesions_detected"], s["false_positives"]) == (2, 1, 1)
    assert s["lesion_sensitivity"] == 0.5
    assert s["lesion_dice"] == pytest.approx(1 / 3)  # (1 + 0 + 0) / (2 lesions + 1 FP)
    assert s["lesion_hd95_mm"] == pytest.approx(200 / 3)  # (0 + 100 + 100) / 3


def test_small_components_are_ignored_and_near_ones_join() -> None:
    shape = (30, 30, 30)
    truth = _cube(shape, (2, 2, 2), 5) | _cube(shape, (2, 2, 9), 5)  # 2 voxels apart: one lesion after dilation
    pred = truth | _cube(shape, (20, 20, 20), 3)  # a 27-voxel speck: under 50 voxels, not a false positive
    s = lesion_scores(pred, truth, (1.0, 1.0, 1.0), LesionRules())
    assert (s["lesions"], s["false_positives"], s["lesion_dice"]) == (1, 0, 1.0)
    tiny_truth = _cube(shape, (20, 20, 20), 3)
    s = lesion_scores(np.zeros(shape, bool), tiny_truth, (1.0, 1.0, 1.0), LesionRules())
    assert (s["lesions"], s["lesion_dice"]) == (0, 1.0)  # no lesion of at least 50 voxels to find
