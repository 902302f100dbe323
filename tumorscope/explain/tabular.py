"""Feature importance for tabular models (radiomics features + a scikit-learn classifier).

Permutation importance (scikit-learn): how much a held-out score drops when one feature's values are
shuffled, repeated ``n_repeats`` times. Compute it on data the model was not fitted on. Correlated
features share their importance (shuffling one leaves its twin), so a low value does not prove a
feature is useless.

SHAP values (the ``shap`` package's permutation explainer: model-agnostic, so SVMs, forests, boosting and logistic
regression are explained alike) of one class's probability; :func:`pipeline_importance` gives both for a classical
pipeline (tumorscope.classical) on its selected features: imputation, scaling and the variance filter act on each
column alone, so shuffling a selected column before or after them is the same; an unselected feature has none.
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
    """feature, importance, std, ci95_low, ci95_high (+ mean_abs_shap when the rows have it) (atomic)."""
    shap = bool(rows) and "mean_abs_shap" in rows[0]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["feature", "importance", "std", "ci95_low", "ci95_high", *(["mean_abs_shap"] if shap else [])])
    for r in rows:
        w.writerow([r["feature"], f"{r['importance']:.6g}", f"{r['std']:.6g}", f"{r['ci95'][0]:.6g}",
                    f"{r['ci95'][1]:.6g}", *([f"{r['mean_abs_shap']:.6g}"] if shap else [])])
    write_text(path, buf.getvalue())


def shap_values(predict: Any, x: np.ndarray, background: np.ndarray, seed: int = 0) -> np.ndarray:
    """(rows, features) SHAP values of the scalar function ``predict`` at ``x`` (permutation explainer, one
    permutation per row - 2 x features + 2 calls - against the ``background`` rows)."""
    import shap

    masker = shap.maskers.Independent(background, max_samples=len(background))
    explainer = shap.PermutationExplainer(predict, masker, seed=seed)
    return np.asarray(explainer(x, max_evals=2 * x.shape[1] + 2, silent=True).values)


def pipeline_importance(pipeline: Any, x_val: np.ndarray, y_val: np.ndarray, x_train: np.ndarray,
                        columns: Sequence[str], positive: int, seed: int = 0, n_explain: int = 150,
                        n_background: int = 30, n_repeats: int = 10) -> list[dict[str, Any]]:
    """Permutation importance (drop in ROC AUC, one-vs-rest for 3+ classes; in accuracy when the held-out rows
    lack a class) and mean |SHAP| of the probability of class index ``positive`` for each feature a fitted
    classical pipeline selected, on held-out rows ``x_val`` (labels ``y_val``: indices into the pipeline's
    ``classes_``); ranked by mean |SHAP| (``rank``)."""
    from tumorscope.classical.pipeline import selected_columns

    names = selected_columns(pipeline, list(columns))
    head, model = pipeline[:-1], pipeline[-1]
    rng = np.random.default_rng(seed)
    z_val = head.transform(x_val)
    z_bg = head.transform(x_train[rng.choice(len(x_train), min(n_background, len(x_train)), replace=False)])
    z_explain = z_val[rng.choice(len(z_val), min(n_explain, len(z_val)), replace=False)]
    values = shap_values(lambda z: model.predict_proba(z)[:, positive], z_explain, z_bg, seed)
    mean_abs = dict(zip(names, np.abs(values).mean(0)))
    # the drop in ROC AUC needs every class among the held-out rows (a few validation patients may lack a
    # cluster of four): otherwise the drop in accuracy, which is defined on any rows
    every_class = len(np.unique(y_val)) == len(model.classes_)
    scoring = ("roc_auc" if len(model.classes_) == 2 else "roc_auc_ovr") if every_class else "accuracy"
    rows = permutation_importances(model, z_val, model.classes_[y_val], names, scoring, n_repeats, seed)
    for r in rows:
        r["mean_abs_shap"] = float(mean_abs[r["feature"]])
    rows.sort(key=lambda r: -r["mean_abs_shap"])
    for rank, r in enumerate(rows, 1):
        r["rank"] = rank
    return rows
