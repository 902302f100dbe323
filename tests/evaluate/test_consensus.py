"""STAPLE, majority, pairwise Dice and Fleiss' kappa of tumorscope.evaluate.consensus on small synthetic masks
and the textbook examples of Fleiss' kappa."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.consensus import (
    category_counts,
    check_masks,
    consensus_report,
    fleiss_kappa,
    majority,
    pairwise_dice,
    staple,
)


def box(y0: int, y1: int, x0: int, x1: int, shape: tuple[int, int] = (48, 48)) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def test_identical_readers_staple_equals_them_and_dice_is_one() -> None:
    m = box(10, 30, 12, 28)
    res = staple([m, m, m])
    np.testing.assert_array_equal(res.mask, m)
    assert res.probability.dtype == np.float32 and res.probability[m].min() > 0.99 and res.probability[~m].max() < 0.01
    assert res.sensitivity == pytest.approx((1, 1, 1)) and res.specificity == pytest.approx((1, 1, 1))
    pw = pairwise_dice([m, m, m])
    assert pw.mean == pw.min == 1.0 and pw.matrix == [[1.0] * 3] * 3 and len(pw.pairs) == 3


def test_an_outlier_reader_scores_lowest() -> None:
    core = box(10, 30, 10, 30)
    near = [core, box(11, 30, 10, 30), box(10, 30, 10, 31)]
    wide = box(4, 40, 4, 40)  # over-segments: full sensitivity, lowest specificity
    narrow = box(16, 24, 16, 24)  # under-segments: lowest sensitivity
    res = staple([*near, wide])
    np.testing.assert_array_equal(res.mask, core)  # the 2-of-4 column (reader c + wide) is out: wide is unreliable
    assert (majority([*near, wide]) & ~core).sum() == 20
    assert res.specificity[3] < min(res.specificity[:3]) and res.sensitivity[3] == pytest.approx(1.0)
    res = staple([*near, narrow])
    assert res.sensitivity[3] < min(res.sensitivity[:3]) - 0.5 and res.specificity[3] == pytest.approx(1.0)
    report, est, vote = consensus_report([*near, narrow], names=["a", "b", "c", "d"])
    assert report.reader_dice_vs_staple[3] == pytest.approx(2 * 64 / (64 + 400))  # narrow vs STAPLE = core
    assert min(report.reader_dice_vs_staple[:3]) > 0.97
    assert report.pairwise_dice.min == pytest.approx(2 * 64 / (64 + 420))  # narrow vs the widest near reader
    assert report.staple_vs_majority_dice == pytest.approx(1.0) and report.staple_voxels == int(est.mask.sum())


def test_threshold_and_majority_fraction() -> None:
    a, b, c, d = box(0, 10, 0, 10), box(0, 10, 0, 5), box(0, 5, 0, 5), box(0, 2, 0, 2)
    votes = a.astype(int) + b + c + d
    np.testing.assert_array_equal(majority([a, b, c, d]), votes >= 2)  # 2 of 4 is exactly one half
    np.testing.assert_array_equal(majority([a, b, c, d], fraction=0.75), votes >= 3)
    np.testing.assert_array_equal(majority([a, b]), a | b)  # one of two readers is a majority at 0.5
    loose, strict = staple([a, b, c, d], threshold=0.05), staple([a, b, c, d], threshold=0.95)
    assert strict.mask.sum() <= loose.mask.sum()
    np.testing.assert_array_equal(loose.mask, loose.probability >= 0.05)
    with pytest.raises(TumorscopeError, match="threshold"):
        staple([a, b], threshold=0)
    with pytest.raises(TumorscopeError, match="fraction"):
        majority([a, b], fraction=1.5)


def test_all_readers_empty() -> None:
    empty = np.zeros((3, 8, 8), np.uint8)
    res = staple([empty, empty])
    assert not res.mask.any() and not res.probability.any() and res.iterations == 0
    assert all(math.isnan(s) for s in res.sensitivity) and res.specificity == (1.0, 1.0)
    report, _, _ = consensus_report([empty, empty])
    data = json.loads(report.to_json())
    assert data["staple_sensitivity"] == [None, None] and data["pairwise_dice"]["mean"] == 1.0
    assert data["readers"] == ["reader 1", "reader 2"] and data["shape"] == [3, 8, 8]


def test_masks_are_checked() -> None:
    m = box(0, 4, 0, 4, (8, 8))
    with pytest.raises(TumorscopeError, match="at least 2 readers"):
        check_masks([m])
    with pytest.raises(TumorscopeError, match=r"^b\.png: mask shape \(9, 8\) differs from a\.png's \(8, 8\)"):
        staple([m, np.zeros((9, 8), bool)], names=["a.png", "b.png"])
    with pytest.raises(TumorscopeError, match=r"reader 2: a mask must be binary .*found values 0, 1, 2"):
        pairwise_dice([m, np.arange(64).reshape(8, 8) % 3])
    with pytest.raises(TumorscopeError, match=r"^x\.nii\.gz: a mask must be 2-D or 3-D"):
        majority([m, np.zeros((1, 1, 8, 8))], names=["m.png", "x.nii.gz"])
    as255 = check_masks([m.astype(np.uint8) * 255, m.astype(np.uint8)])
    assert all(x.dtype == np.bool_ for x in as255) and (as255[0] == as255[1]).all()


# Fleiss (1971), Table 1: psychiatric diagnoses of 30 patients by 6 raters each (1 depression, 2 personality
# disorder, 3 schizophrenia, 4 neurosis, 5 other) - R irr's `diagnoses`; kappa 0.430 (irr: 0.4302445).
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]
# Wikipedia's "Fleiss' kappa" worked example: 10 subjects, 14 raters, counts per category; kappa 0.210.
WIKIPEDIA = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]


def test_fleiss_kappa_textbook_examples() -> None:
    counts, cats = category_counts(FLEISS_1971, categories=[1, 2, 3, 4, 5])
    assert counts.shape == (30, 5) and (counts.sum(axis=1) == 6).all() and cats == [1, 2, 3, 4, 5]
    assert fleiss_kappa(counts) == pytest.approx(0.4302445, abs=1e-7)
    assert fleiss_kappa(WIKIPEDIA) == pytest.approx(0.20993, abs=1e-5)


def test_fleiss_kappa_edges() -> None:
    assert fleiss_kappa([[3, 0], [0, 3]]) == pytest.approx(1.0)
    assert fleiss_kappa([[1, 1], [1, 1]]) == pytest.approx(-1.0)  # every pair disagrees, chance is one half
    assert math.isnan(fleiss_kappa([[2, 0], [3, 0]]))  # one category only: undefined
    # unequal raters: P_i from each subject's own n_i, category shares over all 5 ratings
    p_bar, p_e = (1 + 1 / 3) / 2, 0.6**2 + 0.4**2
    assert fleiss_kappa([[2, 0], [1, 2]]) == pytest.approx((p_bar - p_e) / (1 - p_e))
    counts, cats = category_counts([["accept", "accept"], ["reject", "correct", "correct"]],
                                   ["accept", "reject", "correct"])
    assert counts.tolist() == [[2, 0, 0], [0, 1, 2]]
    with pytest.raises(TumorscopeError, match="fewer than 2"):
        fleiss_kappa([[2, 0], [1, 0]])
    with pytest.raises(TumorscopeError, match="maybe"):
        category_counts([["accept", "maybe"]], ["accept", "reject"])
