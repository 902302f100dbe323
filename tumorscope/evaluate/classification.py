"""Classification metrics with bootstrap CIs, and ``evaluate_classification_bundle`` behind ``tumorscope evaluate``.

Macro metrics are means over classes of one-vs-rest per-class values. The 95% CIs resample the
independent unit: patients when the samples carry patient ids, else images. Images a bundle was trained
or validated on (its stored perceptual hashes, within the duplicate audit's distance) are left out of
an evaluation and counted, so a held-out score cannot be inflated by copies of training images.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from tumorscope.bundle import Bundle
from tumorscope.data.dedup import DUP_PREFIX  # defined with the deduplication; importable from here too
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.bootstrap import cluster_bootstrap_ci

log = logging.getLogger(__name__)

CI_METRICS = ("accuracy", "balanced_accuracy", "auc_macro", "sensitivity_macro", "specificity_macro",
              "precision_macro", "f1_macro")
ECE_BINS = 15


def _per_class(y: np.ndarray, probs: np.ndarray) -> dict[str, np.ndarray]:
    """One-vs-rest sensitivity, specificity, precision, F1 and AUC per class (NaN where undefined)."""
    k = probs.shape[1]
    pred = probs.argmax(1)
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    fn = cm.sum(1) - tp
    fp = cm.sum(0) - tp
    tn = cm.sum() - tp - fn - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = tp / (tp + fn)
        spec = tn / (tn + fp)
        prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    auc = np.array([binary_auc(y == c, probs[:, c]) for c in range(k)])
    prec = np.where(tp + fn > 0, prec, np.nan)  # a class absent from the truth has no defined precision here
    return {"sensitivity": sens, "specificity": spec, "precision": prec, "f1": f1, "auc": auc, "cm": cm}


def binary_auc(truth: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney U statistic (ties count one half; equals scikit-learn's roc_auc_score,
    at a fraction of its per-call cost, which matters inside the bootstrap). NaN with one class only."""
    n_pos = int(truth.sum())
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((rankdata(score)[truth].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def scalar_metrics(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy and the macro one-vs-rest metrics of one set of predictions."""
    pc = _per_class(y, probs)
    return {
        "accuracy": float((probs.argmax(1) == y).mean()) if len(y) else float("nan"),
        "balanced_accuracy": float(np.nanmean(pc["sensitivity"])),
        "auc_macro": float(np.nanmean(pc["auc"])) if np.isfinite(pc["auc"]).any() else float("nan"),
        "sensitivity_macro": float(np.nanmean(pc["sensitivity"])),
        "specificity_macro": float(np.nanmean(pc["specificity"])),
        "precision_macro": float(np.nanmean(pc["precision"])),
        "f1_macro": float(np.nanmean(pc["f1"])),
    }


def calibration_bins(y: np.ndarray, probs: np.ndarray, n_bins: int = ECE_BINS) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error of the top-class confidence, and the reliability-diagram bins."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        m = which == b
        if m.any():
            acc, c = float(correct[m].mean()), float(conf[m].mean())
            ece += abs(acc - c) * m.sum() / len(y)
            bins.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": int(m.sum()),
                         "accuracy": acc, "confidence": c})
    return float(ece), bins


def classification_metrics(
    y: np.ndarray,
    probs: np.ndarray,
    classes: Sequence[str],
    groups: Sequence[str | None] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """The metrics.json body (without predictions) for true class indices ``y`` and (N, K) ``probs``.

    ``groups`` (patient ids) make the bootstrap resample patients; without them it resamples images.
    """
    y = np.asarray(y, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if len(y) == 0:
        raise TumorscopeError("no images to score")
    units = _units(groups, len(y))
    cache: dict[bytes, dict[str, float]] = {}

    def boot(idx: np.ndarray, key: str) -> float:
        token = idx.tobytes()
        if token not in cache:  # every metric sees the same resamples (same seed): compute them once
            rows = np.concatenate([units[i] for i in idx])
            cache[token] = scalar_metrics(y[rows], probs[rows])
        return cache[token][key]

    pc = _per_class(y, probs)
    ece, bins = calibration_bins(y, probs)
    out: dict[str, Any] = {
        "task": "classification",
        "n": int(len(y)),
        "classes": list(classes),
        "class_counts": {c: int((y == i).sum()) for i, c in enumerate(classes)},
        **scalar_metrics(y, probs),
        "ci95": {m: cluster_bootstrap_ci(len(units), partial(boot, key=m), n_boot=n_boot, seed=seed) for m in CI_METRICS},
        "ci_unit": _unit_name(groups),
        "n_boot": n_boot,
        "per_class": {c: {k: _num(pc[k][i]) for k in ("sensitivity", "specificity", "precision", "f1", "auc")}
                      for i, c in enumerate(classes)},
        "confusion_matrix": pc["cm"].tolist(),
        "ece": ece,
        "calibration_bins": bins,
    }
    return out


def _units(groups: Sequence[str | None] | None, n: int) -> list[np.ndarray]:
    """Row indices of each resampling unit: one per patient, or one per image without a patient id."""
    if groups is None or all(g is None for g in groups):
        return [np.array([i]) for i in range(n)]
    by: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by.setdefault(g if g is not None else f"\0image{i}", []).append(i)
    return [np.array(v) for v in by.values()]


def _unit_name(groups: Sequence[str | None] | None) -> str:
    ids = {g for g in groups or () if g is not None}
    if any(not g.startswith(DUP_PREFIX) for g in ids):
        return "patient"
    return "image (duplicate groups resampled together)" if ids else "image"


def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def evaluate_classification_bundle(
    bundle: Bundle, samples: Sequence[Sample], out_dir: str | Path, n_boot: int = 2000, exclude_seen: bool = True,
    tta: bool | None = None,
) -> dict[str, Any]:
    """Predict every labelled sample, score it, write ROC / confusion / reliability PNGs into ``out_dir``
    and return the metrics dict (with a ``predictions`` list); the caller writes metrics.json.
    ``tta``: mirror test-time augmentation (None: the bundle's setting)."""
    from tumorscope.evaluate.plots_cls import confusion_plot, reliability_plot, roc_plot
    from tumorscope.predict.classify import near_seen, predict_files

    classes = bundle.classes
    unknown = sorted({s.label for s in samples} - set(classes), key=str)
    if unknown:
        raise TumorscopeError(f"labels {unknown} are not classes of model {bundle.name!r} ({', '.join(classes)})",
                              samples[0].image.parent)
    res = predict_files(bundle, [s.image for s in samples], desc="evaluating", tta=tta)
    by_path = {s.image: s for s in samples}
    seen_cfg = bundle.config.get("training_fingerprints") or {}
    seen = near_seen(res.phashes, [int(h, 16) for h in seen_cfg.get("phash", [])], seen_cfg.get("near_threshold", 4))
    if exclude_seen and seen.any():
        log.warning("left out %d of %d images: (near-)copies of images model %s was trained or validated on",
                    int(seen.sum()), len(seen), bundle.name)
    keep = ~seen if exclude_seen else np.ones(len(seen), dtype=bool)
    if not keep.any():
        raise TumorscopeError(f"all {len(seen)} images are (near-)copies of images the model was trained on: "
                              "nothing held out to evaluate", samples[0].image.parent)
    kept = [p for p, k in zip(res.paths, keep) if k]
    probs = res.probs[keep]
    y = np.array([classes.index(by_path[p].label) for p in kept])
    groups = [by_path[p].patient_id for p in kept]
    metrics = classification_metrics(y, probs, classes, groups, n_boot=n_boot)
    metrics["tta"] = res.tta
    metrics["excluded_seen_in_training"] = int(seen.sum()) if exclude_seen else 0
    metrics["excluded_files"] = [str(p) for p, s in zip(res.paths, seen) if s] if exclude_seen else []
    metrics["predictions"] = [
        {"path": str(p), "group": g, "source": by_path[p].split, "true": classes[t],
         "predicted": classes[int(pr.argmax())], "probabilities": {c: round(float(v), 6) for c, v in zip(classes, pr)}}
        for p, g, t, pr in zip(kept, groups, y, probs)
    ]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    roc_plot(y, probs, classes, out_dir / "roc_curves.png")
    confusion_plot(np.array(metrics["confusion_matrix"]), classes, out_dir / "confusion_matrix.png")
    reliability_plot(metrics["calibration_bins"], metrics["ece"], out_dir / "calibration.png")
    metrics["figures"] = ["roc_curves.png", "confusion_matrix.png", "calibration.png"]
    return metrics


def metrics_from_predictions(predictions: Sequence[dict[str, Any]], classes: Sequence[str],
                             n_boot: int = 2000) -> dict[str, Any]:
    """Re-score a ``predictions`` list (e.g. the held-out images of all CV folds pooled)."""
    y = np.array([list(classes).index(p["true"]) for p in predictions])
    probs = np.array([[p["probabilities"][c] for c in classes] for p in predictions])
    return classification_metrics(y, probs, classes, [p.get("group") for p in predictions], n_boot=n_boot)


def metrics_by_source(predictions: Sequence[dict[str, Any]], classes: Sequence[str],
                      n_boot: int = 2000) -> dict[str, dict[str, Any]]:
    """Pooled metrics per source split folder (e.g. ``Training`` / ``Testing``) of the predicted images, when
    they come from more than one; empty otherwise."""
    sources = sorted({str(p["source"]) for p in predictions if p.get("source")})
    if len(sources) < 2:
        return {}
    return {src: metrics_from_predictions([p for p in predictions if p.get("source") == src], classes, n_boot=n_boot)
            for src in sources}
