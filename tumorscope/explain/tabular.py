"""Feature importance for tabular models (radiomics features + a scikit-learn classifier).

Permutation importance (scikit-learn): how much a held-out score drops when one feature's values are
shuffled, repeated ``n_repeats`` times. Compute it on data the model was not fitted on. Correlated
features share their importance (shuffling one leaves its twin), so a low value does not prove a
feature is useless. SHAP is not used: it needs numba/llvmlite, which this CPU-only stack does not ship.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import write_text


def permutation_importances(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str] | None = None,
    scoring: str | None = None,
    n_repeats: int = 10,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per feature, most important first: ``feature``, ``importance`` (mean score drop),
    ``std`` and ``ci95`` (2.5/97.5 percentiles over the repeats). ``scoring`` is a scikit-learn scorer
    name (default: the estimator's own ``score``, accuracy for classifiers)."""
    from sklearn.inspection import permutation_importance

    x = np.asarray(x)
    names = list(feature_names) if feature_names is not None else [f"feature_{i}" for i in range(x.shape[1])]
    if len(names) != x.shape[1]:
        raise ValueError(f"{len(names)} feature names for {x.shape[1]} columns")
    res = permutation_importance(model, x, y, scoring=scoring, n_repeats=n_repeats, random_state=seed)
    rows = [
        {
            "feature": name,
            "importance": float(res.importances_mean[i]),
            "std": float(res.importances_std[i]),
            "ci95": [float(v) for v in np.percentile(res.importances[i], [2.5, 97.5])],
        }
        for i, name in enumerate(names)
    ]
    return sorted(rows, key=lambda r: -r["importance"])


def write_importances_csv(rows: list[dict[str, Any]], path: str | Path) -> None:
    """feature, importance, std, ci95_low, ci95_high (atomic)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["feature", "importance", "std", "ci95_low", "ci95_high"])
    for r in rows:
        w.writerow([r["feature"], f"{r['importance']:.6g}", f"{r['std']:.6g}", f"{r['ci95'][0]:.6g}",
                    f"{r['ci95'][1]:.6g}"])
    write_text(path, buf.getvalue())
