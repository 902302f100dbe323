"""Paired significance tests against published and hand-computed values.

DeLong: R pROC's own test suite (xrobin/pROC, tests/testthat/test-roc.test.R, "roc.test statistic and p are as
expected with defaults") on its aSAH data set (113 patients, Turck et al. 2010, shipped with pROC as data(aSAH);
tests/evaluate/data/asah.csv holds its outcome, wfns, s100b and ndka columns).
"""

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.classification import scalar_metrics
from tumorscope.evaluate.significance import (
    PairedTest,
    auc_components,
    delong_test,
    holm,
    mcnemar_test,
    paired_mean_test,
)

ASAH = Path(__file__).parent / "data" / "asah.csv"


@pytest.fixture(scope="module")
def asah() -> dict[str, np.ndarray]:
    rows = list(csv.DictReader(ASAH.open()))
    out = {k: np.array([float(r[k]) for r in rows]) for k in ("wfns", "s100b", "ndka")}
    out["poor"] = np.array([r["outcome"] == "Poor" for r in rows], dtype=int)
    return out


@pytest.mark.parametrize(("a", "b", "z", "p", "low", "high"), [
    # roc.test(r.wfns, r.s100b) etc.: pROC reports AUC(first) - AUC(second); here B - A, so A is pROC's second
    ("s100b", "wfns", 2.20898359144091, 0.0271757822291882, 0.0104061769564846, 0.174214419249478),
    ("ndka", "wfns", 2.79777591868904, 0.00514557970691098, 0.0634011709339876, 0.3600405634833566),
    ("s100b", "ndka", -1.39077002573558, 0.164295175223054, None, None),
])
def test_delong_matches_proc_roc_test(asah, a, b, z, p, low, high):
    t = delong_test(asah["poor"], asah[a], asah[b])
    se = (t.high - t.low) / (2 * 1.959963984540054)
    assert t.difference / se == pytest.approx(z, rel=1e-9)
    assert t.p == pytest.approx(p, rel=1e-9)
    if low is not None:
        assert (t.low, t.high) == pytest.approx((low, high), rel=1e-9)
    assert (t.n, t.unit, t.test) == (113, "image", "DeLong")


def test_auc_and_components_are_the_mann_whitney_ones(asah):
    from sklearn.metrics import roc_auc_score

    auc, comp = auc_components(asah["poor"] == 1, asah["wfns"])
    assert auc == pytest.approx(roc_auc_score(asah["poor"], asah["wfns"]))
    assert auc == pytest.approx(0.8236788617886179)  # pROC: auc(r.wfns) = 0.8237
    assert comp[asah["poor"] == 0].mean() == pytest.approx(auc)  # V01's mean is the AUC too


def test_identical_models_give_p_one(asah):
    t = delong_test(asah["poor"], asah["wfns"], asah["wfns"])
    assert (t.difference, t.p) == (0.0, 1.0)


def test_clustered_delong_counts_patients_not_slices(asah):
    """Every item twice in its own cluster: same AUC and the same variance as the items once (clusters of one);
    treated as independent, the copies would halve the variance. Clusters of one stay close to DeLong's."""
    y, a, b = asah["poor"], asah["s100b"], asah["wfns"]
    ids = np.arange(len(y))
    once = delong_test(y, a, b, groups=ids)
    twice = delong_test(np.tile(y, 2), np.tile(a, 2), np.tile(b, 2), groups=np.tile(ids, 2))
    naive = delong_test(np.tile(y, 2), np.tile(a, 2), np.tile(b, 2))
    assert twice.difference == pytest.approx(once.difference)
    assert twice.p == pytest.approx(once.p, rel=1e-9) and (twice.n, twice.unit) == (113, "patient")
    assert naive.p < 0.3 * once.p  # ignoring the pairing of copies overstates the evidence
    assert once.p == pytest.approx(delong_test(y, a, b).p, rel=0.05)


def test_multiclass_delong_tests_the_macro_auc():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    logits_a = rng.normal(size=(300, 3)) + 1.0 * np.eye(3)[y]
    logits_b = logits_a + rng.normal(size=(300, 3)) + 1.0 * np.eye(3)[y]
    pa, pb = (np.exp(x) / np.exp(x).sum(1, keepdims=True) for x in (logits_a, logits_b))
    t = delong_test(y, pa, pb)
    assert t.a == pytest.approx(scalar_metrics(y, pa)["auc_macro"])
    assert t.b == pytest.approx(scalar_metrics(y, pb)["auc_macro"])
    assert t.difference > 0 and t.p < 0.001
    assert delong_test(y, pa, pa).p == 1.0


def test_delong_needs_both_classes():
    with pytest.raises(TumorscopeError, match="positive and negative"):
        delong_test(np.ones(5, dtype=int), np.linspace(0, 1, 5), np.linspace(0, 1, 5))


def _outcomes(both: int, fixed: int, broke: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([1] * both + [0] * fixed + [1] * broke + [0] * neither, dtype=bool)
    b = np.array([1] * both + [1] * fixed + [0] * broke + [0] * neither, dtype=bool)
    return a, b


def test_mcnemar_exact_for_few_discordant_items():
    # 1 fixed, 6 broken: two-sided binomial p = 2 * P(X <= 1 | 7, 1/2) = 2 * (1 + 7) / 2**7
    p, test, fixed, broke = mcnemar_test(*_outcomes(40, 1, 6, 3))
    assert (fixed, broke, test) == (1, 6, "exact McNemar")
    assert p == pytest.approx(16 / 128)


def test_mcnemar_chi_square_with_continuity_correction():
    # 30 fixed, 15 broken: chi2 = (|30 - 15| - 1)^2 / 45 = 196 / 45; p = erfc(sqrt(chi2 / 2)) (1 degree of freedom)
    p, test, fixed, broke = mcnemar_test(*_outcomes(100, 30, 15, 20))
    assert (fixed, broke) == (30, 15) and test.startswith("McNemar chi2")
    assert p == pytest.approx(math.erfc(math.sqrt(196 / 45 / 2)))
    assert mcnemar_test(*_outcomes(5, 0, 0, 5))[0] == 1.0  # no discordant item: nothing to test


def _test(p: float) -> PairedTest:
    return PairedTest("m", 0.0, 0.0, 0.0, 0.0, 0.0, p, "t", 1, "image")


def test_holm_step_down():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone: 0.02, 0.03, 0.06, 0.06
    adjusted = [t.p_holm for t in holm([_test(p) for p in (0.01, 0.04, 0.03, 0.005)])]
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [t.p_holm for t in holm([_test(0.5), _test(0.9)])] == pytest.approx([1.0, 1.0])  # capped at 1
    nan = holm([_test(float("nan")), _test(0.02)])
    assert math.isnan(nan[0].p_holm) and nan[1].p_holm == pytest.approx(0.02)  # an undefined p does not count


def test_paired_bootstrap_ci_covers_the_true_difference():
    """Per-patient Dice of B = A + 0.03 + noise: over 200 synthetic studies (fixed seeds), the 95% CI of the mean
    difference holds the true 0.03 in about 95% of them, and the paired test sees the shift."""
    rng = np.random.default_rng(7)
    covered, significant = 0, 0
    for study in range(200):
        a = rng.beta(8, 2, 40)
        b = np.clip(a + 0.03 + rng.normal(0, 0.05, 40), 0, 1.5)
        t = paired_mean_test("dice", a, b, n_boot=1000, seed=study)
        covered += t.low <= 0.03 <= t.high
        significant += t.p < 0.05
        assert t.difference == pytest.approx(np.mean(b - a))
    assert 0.90 <= covered / 200 <= 0.99
    assert significant / 200 > 0.9


def test_paired_mean_test_skips_undefined_values():
    t = paired_mean_test("hd95", [1.0, np.nan, 3.0, 4.0], [2.0, 5.0, np.nan, 6.0])
    assert t.n == 2 and t.difference == pytest.approx(1.5)
    same = paired_mean_test("dice", [0.5, 0.7], [0.5, 0.7])
    assert (same.p, same.low, same.high) == (1.0, 0.0, 0.0)
