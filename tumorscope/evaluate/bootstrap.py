"""Percentile bootstrap confidence intervals, resampling the independent unit (patients, or images)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import bootstrap


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    stat: Callable[..., float] = np.mean,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> list[float]:
    """[low, high] percentile interval of ``stat`` over resamples of ``values`` (NaNs dropped).

    scipy's ``bootstrap`` draws the same resamples as ``default_rng(seed).integers(0, n, (n_boot, n))``.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return [float("nan"), float("nan")]
    if v.size == 1 or np.all(v == v[0]):  # every resample is the same: scipy refuses degenerate data
        s = float(stat(v))
        return [s, s]
    res = bootstrap((v,), stat, n_resamples=n_boot, confidence_level=level, method="percentile",
                    rng=np.random.default_rng(seed))
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def cluster_bootstrap_ci(
    n_clusters: int,
    metric: Callable[[np.ndarray], float],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> list[float]:
    """[low, high] interval of ``metric(cluster_indices)`` when whole clusters (patients) are resampled.

    ``metric`` receives an array of cluster indices (with repeats) and returns the statistic; resamples
    where it is undefined (NaN, e.g. one class only) are skipped.

    Written by hand rather than with ``scipy.stats.bootstrap``: the statistic is pooled over the rows of the
    drawn clusters (not a function of one value per cluster), and scipy has no way to skip the resamples
    where it is undefined - it would return a NaN interval instead.
    """
    if n_clusters == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        s = metric(rng.integers(0, n_clusters, size=n_clusters))
        if np.isfinite(s):
            stats.append(s)
    if not stats:
        return [float("nan"), float("nan")]
    a = (1 - level) / 2
    return [float(np.quantile(stats, a)), float(np.quantile(stats, 1 - a))]
