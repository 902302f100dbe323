"""Per-patient segmentation evaluation: volumetric Dice/IoU/HD95 and slice-level tumor presence, with CIs."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from tumorscope.bundle.postprocess import PostProcess
from tumorscope.data.volumes import SliceStack
from tumorscope.evaluate.bootstrap import bootstrap_ci, cluster_bootstrap_ci
from tumorscope.evaluate.classification import prediction_rows
from tumorscope.evaluate.overlap import dice, hd95, iou
from tumorscope.predict.segmentation import predict_probabilities
from tumorscope.predict.volumetric import SlidingWindow, is_volumetric, predict_stack
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.progress import progress
from tumorscope.results import CIMethod, Estimate, MetricsReport

PRESENCE_CLASSES = ("no_tumor", "tumor")  # a slice classifier's classes (kaggle_3m labels), in their sorted order


@dataclass
class PatientResult:
    id: str
    n_slices: int
    dice: float
    iou: float
    hd95: float
    truth_voxels: int
    pred_voxels: int
    slice_truth: np.ndarray  # (N,) bool: tumor on the slice
    slice_score: np.ndarray  # (N,) max probability on the slice
    slice_pred: np.ndarray  # (N,) bool: tumor predicted on the slice
    slice_presence: np.ndarray | None = None  # (N,) "tumor" probability as a slice classifier: presence_score
    slice_paths: tuple[str, ...] = ()  # each slice's image file, when the stack has one per slice

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id, "n_slices": self.n_slices, "dice": self.dice, "iou": self.iou, "hd95": self.hd95,
            "truth_voxels": self.truth_voxels, "pred_voxels": self.pred_voxels,
            "tumor_slices": int(self.slice_truth.sum()),
            "false_positive_slices": int((self.slice_pred & ~self.slice_truth).sum()),
        }


def presence_score(prob: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Each slice's "tumor" probability as a slice classifier, consistent with the segmentation's decision: a slice
    with a non-empty post-processed mask scores 0.5 + half its largest probability inside the mask, any other
    slice half its largest probability - so "tumor" wins exactly where the mask is non-empty, whatever the
    bundle's threshold and small-component removal, and slices rank by their probabilities within each side."""
    flat, kept = prob.reshape(prob.shape[0], -1), pred.reshape(pred.shape[0], -1)
    positive = kept.any(1)
    inside = np.where(kept, flat, 0.0).max(1)
    return np.where(positive, np.maximum(0.5 + 0.5 * inside, 0.500001), np.minimum(0.5 * flat.max(1), 0.499999))


def score_patient(stack: SliceStack, prob: np.ndarray, post: PostProcess) -> PatientResult:
    """Compare a probability map of one volume with its ground-truth masks."""
    truth = stack.require_masks()
    pred = post(prob)
    sp = tuple(float(s) for s in stack.spacing)
    spacing_np = (1.0, sp[1], sp[0]) if len(sp) == 2 else tuple(reversed(sp))
    return PatientResult(
        id=stack.patient_id or stack.id,
        n_slices=stack.n_slices,
        dice=dice(pred, truth),
        iou=iou(pred, truth),
        hd95=hd95(pred, truth, spacing_np),
        truth_voxels=int(truth.sum()),
        pred_voxels=int(pred.sum()),
        slice_truth=np.asarray(truth.reshape(truth.shape[0], -1).any(1)),
        slice_score=prob.reshape(prob.shape[0], -1).max(1),
        slice_pred=np.asarray(pred.reshape(pred.shape[0], -1).any(1)),
        slice_presence=presence_score(prob, pred),
        slice_paths=tuple(str(s.image) for s in stack.samples) if len(stack.samples) == stack.n_slices else (),
    )


def slice_predictions(results: list[PatientResult]) -> list[dict[str, Any]]:
    """The slices as a slice classifier's ``predictions`` rows (classes :data:`PRESENCE_CLASSES`, grouped by
    patient), so ``compare --presence`` pairs a segmentation run with tumor-presence classifiers; empty unless
    every volume is a stack of slice files (2-D datasets such as kaggle_3m)."""
    scored = [(r, r.slice_presence) for r in results if r.slice_paths and r.slice_presence is not None]
    if not results or len(scored) < len(results):
        return []
    paths = [p for r, _ in scored for p in r.slice_paths]
    groups = [r.id for r, s in scored for _ in s]
    y = np.concatenate([r.slice_truth for r, _ in scored]).astype(int)
    tumor = np.concatenate([s for _, s in scored])
    return prediction_rows(paths, groups, [None] * len(paths), y, np.stack([1.0 - tumor, tumor], 1), PRESENCE_CLASSES)


def evaluate_stacks(
    model: Any,
    pre: Preprocessor,
    post: PostProcess,
    stacks: list[SliceStack],
    bf16: bool = True,
    show_progress: bool = True,
    window: SlidingWindow | None = None,
) -> list[PatientResult]:
    """Predict and score every volume (a 3-D model: whole volumes by sliding-window inference with ``window``)."""
    it = progress(stacks, desc="evaluating", total=len(stacks)) if show_progress else stacks
    if is_volumetric(model):
        return [score_patient(*predict_stack(model, pre, s, window, tta=post.tta, bf16=bf16), post) for s in it]
    return [
        score_patient(s, predict_probabilities(model, pre, s.images, tta=post.tta, bf16=bf16), post) for s in it
    ]


def segmentation_report(results: list[PatientResult], n_boot: int = 2000, seed: int = 0) -> MetricsReport:
    """Per-patient means with 95% bootstrap CIs over patients, and slice-level tumor presence (sensitivity,
    specificity, AUC of the slice's maximum probability) pooled over slices with CIs resampling patients."""
    d = np.array([r.dice for r in results])
    j = np.array([r.iou for r in results])
    h = np.array([r.hd95 for r in results])
    truth = [r.slice_truth for r in results]
    score = [r.slice_score for r in results]
    pred = [r.slice_pred for r in results]

    def pooled(idx: np.ndarray, fn: Any) -> float:
        t = np.concatenate([truth[i] for i in idx])
        return fn(t, np.concatenate([score[i] for i in idx]), np.concatenate([pred[i] for i in idx]))

    def sens(t: np.ndarray, _s: np.ndarray, p: np.ndarray) -> float:
        return float((p & t).sum() / t.sum()) if t.any() else float("nan")

    def spec(t: np.ndarray, _s: np.ndarray, p: np.ndarray) -> float:
        return float((~p & ~t).sum() / (~t).sum()) if (~t).any() else float("nan")

    def auc(t: np.ndarray, s: np.ndarray, _p: np.ndarray) -> float:
        return float(roc_auc_score(t, s)) if 0 < t.sum() < t.size else float("nan")

    n = len(results)
    nan = float("nan")

    def mean(values: np.ndarray, value: float) -> Estimate:
        return Estimate.of(value, bootstrap_ci(values, n_boot=n_boot, seed=seed), n=int(np.isfinite(values).sum()),
                        unit="patient")

    def slices(fn: Any) -> Estimate:
        ci = cluster_bootstrap_ci(n, functools.partial(pooled, fn=fn), n_boot=min(n_boot, 1000), seed=seed)
        return Estimate.of(pooled(np.arange(n), fn) if results else nan, ci, n=n, unit="patient")

    tumor_free = [r for r in results if r.truth_voxels == 0]
    metrics = {
        "dice_mean": mean(d, float(d.mean()) if d.size else nan),
        "dice_median": Estimate(float(np.median(d)) if d.size else nan, n=n, unit="patient"),
        "iou_mean": mean(j, float(j.mean()) if j.size else nan),
        "hd95_mean_mm": mean(h, float(np.nanmean(h)) if np.isfinite(h).any() else nan),
        "slice_sensitivity": slices(sens),
        "slice_specificity": slices(spec),
        "slice_auc": slices(auc),
    }
    counts = {
        "n_patients": n,
        "n_slices": int(sum(r.n_slices for r in results)),
        "n_tumor_slices": int(sum(r.slice_truth.sum() for r in results)),
        "hd95_undefined_patients": int(np.isnan(h).sum()),
        "false_positive_slices": int(sum((r.slice_pred & ~r.slice_truth).sum() for r in results)),
        "tumor_free_slices": int(sum((~r.slice_truth).sum() for r in results)),
        "tumor_free_patients": len(tumor_free),
        "tumor_free_patients_correct": int(sum(r.pred_voxels == 0 for r in tumor_free)),
    }
    rows = slice_predictions(results)
    return MetricsReport(task="segmentation", metrics=metrics, counts=counts, per_case=[r.row() for r in results],
                         ci=CIMethod(unit="patient", n_boot=n_boot), extra={"slice_predictions": rows} if rows else {})


def summarize(results: list[PatientResult], n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """:func:`segmentation_report` as its metrics.json body."""
    return segmentation_report(results, n_boot, seed).to_json()
