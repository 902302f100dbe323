"""Held-out results of a cross-validation pooled over its folds (``cv_summary.json``): mean +- sd of every
scalar across folds, and the pooled per-patient Dice (segmentation) or every metric with CIs (classification)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.evaluate.bootstrap import bootstrap_ci


def summarize_folds(out: Path, k: int) -> dict[str, Any]:
    """Mean +- sd across folds of every scalar metric, and pooled held-out results: the per-patient Dice
    (segmentation) or every metric with CIs over all folds' test images (classification)."""
    folds = [json.loads((out / f"fold{i}" / "test_metrics.json").read_text()) for i in range(k)
             if (out / f"fold{i}" / "test_metrics.json").exists()]
    if not folds:
        return {"folds_done": 0}
    scalars = [key for key, v in folds[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    summary: dict[str, Any] = {"task": folds[0].get("task"), "folds_done": len(folds), "k": k}
    summary["across_folds"] = {
        key: {"mean": float(np.nanmean([f[key] for f in folds])), "sd": float(np.nanstd([f[key] for f in folds], ddof=1))
              if len(folds) > 1 else 0.0, "per_fold": [f[key] for f in folds]}
        for key in scalars
    }
    if summary["task"] == "segmentation":
        rows = [r for f in folds for r in f["per_patient"]]
        d = np.array([r["dice"] for r in rows])
        summary.update({
            "n_patients": len(rows),
            "n_slices": int(sum(r["n_slices"] for r in rows)),
            "dice_mean": float(d.mean()),
            "dice_median": float(np.median(d)),
            "dice_ci95": bootstrap_ci(d),
            "iou_mean": float(np.mean([r["iou"] for r in rows])),
            "hd95_mean_mm": float(np.nanmean([r["hd95"] for r in rows])),
            "false_positive_slices": int(sum(r["false_positive_slices"] for r in rows)),
            "tumor_free_slices": int(sum(f["tumor_free_slices"] for f in folds)),
            "per_patient": rows,
        })
    elif summary["task"] == "classification":
        from tumorscope.evaluate.classification import metrics_by_source, metrics_from_predictions

        predictions = [p for f in folds for p in f["predictions"]]
        pooled = metrics_from_predictions(predictions, folds[0]["classes"])
        summary["pooled"] = pooled  # every fold's held-out images scored together, CIs over images (patients)
        by_source = metrics_by_source(predictions, folds[0]["classes"])
        if by_source:  # e.g. the brain set's Training/ and Testing/ images, each scored on its own
            summary["pooled_by_source"] = by_source
        summary["excluded_seen_in_training"] = int(sum(f.get("excluded_seen_in_training", 0) for f in folds))
        summary["n_images"] = len(predictions)  # each fold's predictions stay in fold<i>/test_metrics.json
    return summary

