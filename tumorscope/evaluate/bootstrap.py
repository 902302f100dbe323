"""Percentile bootstrap confidence intervals, resampling the independent unit (patients, or images)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    stat: Callable[[np.ndarray], float] = np.mean,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> list[float]:
    """[low, high] percentile interval of ``stat`` over resamples of ``values`` (NaNs dropped)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    stats = np.array([stat(v[i]) for i in idx])
    a = (1 - level) / 2
    return [float(np.quantile(stats, a)), float(np.quantile(stats, 1 - a))]


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
