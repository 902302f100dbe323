import numpy as np
import pytest

from tumorscope.evaluate.bootstrap import bootstrap_ci, cluster_bootstrap_ci
from tumorscope.evaluate.overlap import dice, hd95, iou


def _box(shape, sl):
    m = np.zeros(shape, bool)
    m[sl] = True
    return m


def test_dice_and_iou_known_values():
    a = _box((1, 10, 10), np.s_[0, 0:4, 0:5])  # 20 px
    b = _box((1, 10, 10), np.s_[0, 2:6, 0:5])  # 20 px, 10 shared
    assert dice(a, b) == pytest.approx(0.5)
    assert iou(a, b) == pytest.approx(10 / 30)


def test_empty_conventions():
    empty = np.zeros((2, 4, 4), bool)
    full = np.ones((2, 4, 4), bool)
    assert dice(empty, empty) == 1.0 and iou(empty, empty) == 1.0
    assert dice(full, empty) == 0.0 and dice(empty, full) == 0.0
    assert hd95(empty, empty, (1, 1, 1)) == 0.0
    assert np.isnan(hd95(full, empty, (1, 1, 1)))


def test_hd95_scales_with_spacing():
    a = _box((3, 20, 20), np.s_[1, 5:10, 5:10])
    b = _box((3, 20, 20), np.s_[1, 7:12, 5:10])
    d1 = hd95(a, b, (1.0, 1.0, 1.0))
    d2 = hd95(a, b, (1.0, 2.0, 2.0))
    assert d1 == pytest.approx(2.0)
    assert d2 == pytest.approx(2 * d1)


def test_bootstrap_ci_contains_mean_and_narrows_with_n():
    rng = np.random.default_rng(0)
    small = rng.normal(0.8, 0.1, 20)
    large = rng.normal(0.8, 0.1, 400)
    lo, hi = bootstrap_ci(small)
    assert lo < small.mean() < hi
    lo2, hi2 = bootstrap_ci(large)
    assert (hi2 - lo2) < (hi - lo)


def test_cluster_bootstrap_skips_undefined_resamples():
    values = np.array([1.0, 0.0, 1.0, 1.0])
    lo, hi = cluster_bootstrap_ci(4, lambda idx: values[idx].mean() if len(set(idx)) > 1 else float("nan"))
    assert 0.0 <= lo <= hi <= 1.0
