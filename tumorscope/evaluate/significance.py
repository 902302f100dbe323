"""Paired significance tests for two models scored on the same items (images or patients).

- :func:`delong_test`: DeLong, DeLong & Clarke-Pearson (1988) for the difference of two correlated ROC AUCs, in
  its structural-component form; with patient ids it uses Obuchowski's (1997) clustered variance (the slices of a
  patient are not independent); a multi-class macro one-vs-rest AUC is the mean of the per-class components.
- :func:`mcnemar_test`: McNemar's test of paired accuracy (statsmodels): exact binomial on the discordant items
  when there are fewer than 25 of them, else the continuity-corrected chi-square.
- :func:`paired_mean_test`: a per-item metric (per-patient Dice): the mean difference with a percentile bootstrap
  CI and the Wilcoxon signed-rank p.
- :func:`holm`: Holm's step-down adjustment across the pairs compared (statsmodels).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata, wilcoxon

from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.bootstrap import bootstrap_ci, cluster_bootstrap_ci

EXACT_BELOW = 25  # discordant pairs under which McNemar's test is the exact binomial one


@dataclass(frozen=True)
class PairedTest:
    """One metric of model B against model A on the same ``n`` units: ``difference`` = B - A with its 95% CI
    [``low``, ``high``], the two-sided ``p`` of ``test`` and, once :func:`holm` has run, ``p_holm``."""

    metric: str
    a: float
    b: float
    difference: float
    low: float
    high: float
    p: float
    test: str
    n: int
    unit: str
    p_holm: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


# -- DeLong ---------------------------------------------------------------------------------------------------
def auc_components(truth: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray]:
    """ROC AUC and each item's structural component (DeLong 1988): V10 for a positive (the fraction of
    negatives it outscores, ties one half), V01 for a negative (the fraction of positives that outscore it)."""
    truth = np.asarray(truth, dtype=bool)
    score = np.asarray(score, dtype=float)
    m, n = int(truth.sum()), int((~truth).sum())
    if m == 0 or n == 0:
        raise TumorscopeError("the AUC needs positive and negative items")
    overall = rankdata(score)
    comp = np.empty(len(score))
    comp[truth] = (overall[truth] - rankdata(score[truth])) / n
    comp[~truth] = 1.0 - (overall[~truth] - rankdata(score[~truth])) / m
    return float(comp[truth].mean()), comp


def _influence(truth: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray]:
    """AUC and each item's influence on it: (V10 - AUC) / m for positives, (V01 - AUC) / n for negatives."""
    auc, comp = auc_components(truth, score)
    m = truth.sum()
    return auc, np.where(truth, (comp - auc) / m, (comp - auc) / (len(truth) - m))


def macro_influence(y: np.ndarray, probs: np.ndarray) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Macro one-vs-rest AUC (classes absent from ``y`` skipped, as in the metrics), the per-item influence and,
    for a single AUC (two classes), the positives mask DeLong's small-sample correction needs."""
    y = np.asarray(y, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if probs.shape[1] == 2:
        auc, psi = _influence(y == 1, probs[:, 1])
        return auc, psi, y == 1
    present = [c for c in range(probs.shape[1]) if 0 < (y == c).sum() < len(y)]
    if not present:
        raise TumorscopeError("the AUC needs at least two classes among the items")
    parts = [_influence(y == c, probs[:, c]) for c in present]
    return float(np.mean([a for a, _ in parts])), np.mean([p for _, p in parts], axis=0), None


def _variance(psi: np.ndarray, positives: np.ndarray | None, groups: Sequence[Any] | None) -> float:
    """Variance of a sum of influences: DeLong's (m/(m-1), n/(n-1) corrections) for one AUC of independent items,
    else over clusters (Obuchowski 1997): I/(I-1) times the sum of squared per-cluster influence totals."""
    if groups is None and positives is not None:
        m, n = positives.sum(), (~positives).sum()
        return float((psi[positives] ** 2).sum() * m / (m - 1) + (psi[~positives] ** 2).sum() * n / (n - 1))
    keys = np.arange(len(psi)) if groups is None else np.unique(np.asarray(groups, dtype=str), return_inverse=True)[1]
    totals = np.bincount(keys, weights=psi)
    k = len(totals)
    return float((totals ** 2).sum() * k / (k - 1)) if k > 1 else float("nan")


def delong_test(y: np.ndarray, probs_a: np.ndarray, probs_b: np.ndarray, groups: Sequence[Any] | None = None,
                level: float = 0.95) -> PairedTest:
    """DeLong's test of AUC(B) - AUC(A) on the same items: ``y`` class indices, ``probs_*`` (N, K) probabilities
    (or (N,) scores of the positive class with 0/1 ``y``). ``groups`` (patient ids): clustered variance. The CI is
    the normal one of the test (as R's pROC ``roc.test`` gives it)."""
    pa, pb = (np.asarray(p, dtype=float) for p in (probs_a, probs_b))
    if pa.ndim == 1:
        pa, pb = (np.stack([1 - p, p], axis=1) for p in (pa, pb))
    auc_a, psi_a, pos = macro_influence(y, pa)
    auc_b, psi_b, _ = macro_influence(y, pb)
    diff = auc_b - auc_a
    var = _variance(psi_b - psi_a, pos, groups)
    se = math.sqrt(var) if var > 0 else 0.0
    if se > 0:
        p = float(2 * norm.sf(abs(diff) / se))
    else:  # identical rankings (or a single cluster): no evidence of a difference
        p = 1.0 if diff == 0 else float("nan")
    half = float(norm.ppf(0.5 + level / 2)) * se
    unit = "image" if groups is None else "patient"
    n = len(y) if groups is None else len(set(map(str, groups)))
    return PairedTest("auc", auc_a, auc_b, diff, diff - half, diff + half, p,
                      "DeLong" + (" (clustered)" if groups is not None else ""), n, unit)


# -- McNemar --------------------------------------------------------------------------------------------------
def mcnemar_test(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[float, str, int, int]:
    """(p, test name, b fixed, a fixed) for paired right/wrong outcomes: the exact binomial test when fewer than
    :data:`EXACT_BELOW` items are discordant, else the chi-square with continuity correction."""
    from statsmodels.stats.contingency_tables import mcnemar

    ca, cb = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    fixed, broke = int((cb & ~ca).sum()), int((ca & ~cb).sum())
    exact = fixed + broke < EXACT_BELOW
    table = [[int((ca & cb).sum()), broke], [fixed, int((~ca & ~cb).sum())]]
    p = 1.0 if fixed + broke == 0 else float(mcnemar(table, exact=exact, correction=True).pvalue)
    return p, "exact McNemar" if exact else "McNemar chi2 (continuity corrected)", fixed, broke


# -- per-item metrics -----------------------------------------------------------------------------------------
def paired_mean_test(metric: str, a: Sequence[float], b: Sequence[float], unit: str = "patient",
                     n_boot: int = 2000, seed: int = 0) -> PairedTest:
    """Mean of a per-item metric, B - A: percentile bootstrap CI of the mean paired difference (resampling items)
    and the two-sided Wilcoxon signed-rank p. Items where either value is undefined (NaN) are left out."""
    va, vb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(va) & np.isfinite(vb)
    va, vb = va[keep], vb[keep]
    d = vb - va
    if d.size == 0:
        raise TumorscopeError(f"no item with a defined {metric} in both runs")
    low, high = bootstrap_ci(d, n_boot=n_boot, seed=seed)
    p = float(wilcoxon(vb, va).pvalue) if np.any(d != 0) else 1.0
    return PairedTest(metric, float(va.mean()), float(vb.mean()), float(d.mean()), low, high, p, "Wilcoxon signed-rank",
                      int(d.size), unit)


def paired_bootstrap_ci(units: list[np.ndarray], difference: Callable[[np.ndarray], float], n_boot: int = 2000,
                        seed: int = 0) -> list[float]:
    """95% percentile CI of a pooled metric's difference B - A, ``difference(rows)`` evaluated on the rows of
    resampled units (patients, or images): both models see the same resample, which keeps the pairing."""
    def metric(idx: np.ndarray) -> float:
        return difference(np.concatenate([units[i] for i in idx]))

    return cluster_bootstrap_ci(len(units), metric, n_boot=n_boot, seed=seed)


# -- multiplicity -----------------------------------------------------------------------------------------------
def holm(tests: Sequence[PairedTest]) -> list[PairedTest]:
    """The tests with ``p_holm``: Holm's step-down adjustment, the family being all tests given (one metric
    across every pair of runs). Undefined p-values stay undefined and do not count."""
    from statsmodels.stats.multitest import multipletests

    ps = np.array([t.p for t in tests], dtype=float)
    ok = np.isfinite(ps)
    adjusted = np.full(len(ps), np.nan)
    if ok.any():
        adjusted[ok] = multipletests(ps[ok], method="holm")[1]
    return [replace(t, p_holm=float(a)) for t, a in zip(tests, adjusted)]
