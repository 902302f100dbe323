"""Classification figures: one-vs-rest ROC curves, confusion matrix, reliability diagram (PNG, atomic), and
:func:`write_classification_figures`, the PNGs ``tumorscope evaluate`` writes beside a classifier's metrics.json."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from tumorscope.report.plots import plt, save_figure
from tumorscope.results import MetricsReport

FIGURES = ("roc_curves.png", "confusion_matrix.png", "calibration.png")


def roc_plot(y: np.ndarray, probs: np.ndarray, classes: Sequence[str], path: Path) -> None:
    """One ROC curve per class (that class vs the rest), AUC in the legend."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for k, name in enumerate(classes):
        truth = y == k
        if 0 < truth.sum() < len(y):
            fpr, tpr, _ = roc_curve(truth, probs[:, k])
            ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(truth, probs[:, k]):.3f})")
        if len(classes) == 2:  # both curves are the same picture
            break
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC (one vs rest)", xlim=(0, 1), ylim=(0, 1.01))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    else:  # every image of one class: no class-vs-rest curve exists
        ax.text(0.5, 0.5, "ROC undefined: the images hold one class only", ha="center", va="center", fontsize=8)
    save_figure(fig, path)


def confusion_plot(cm: np.ndarray, classes: Sequence[str], path: Path) -> None:
    """Counts, coloured by the fraction of each true class (row)."""
    frac = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2.4, 1.1 * len(classes) + 1.8))
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", color="white" if frac[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    save_figure(fig, path)


def reliability_plot(bins: Sequence[dict[str, Any]], ece: float, path: Path) -> None:
    """Accuracy against mean confidence per confidence bin (bar width = bin), with the diagonal."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    for b in bins:
        ax.bar(b["low"], b["accuracy"], width=b["high"] - b["low"], align="edge", color="tab:blue", alpha=0.7,
               edgecolor="white")
        ax.plot(b["confidence"], b["accuracy"], "o", color="tab:red", ms=3)
    ax.plot([0, 1], [0, 1], color="0.4", lw=0.8, ls="--")
    ax.set(xlabel="confidence (top-class probability)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1.01),
           title=f"reliability (ECE {ece:.3f})")
    save_figure(fig, path)


def write_classification_figures(report: MetricsReport, out_dir: str | Path) -> list[str]:
    """Draw the ROC curves (from the report's per-image probabilities), confusion matrix and reliability diagram
    of a classification report into ``out_dir``; the file names written (:data:`FIGURES`)."""
    classes = report.classes
    rows = report.per_case
    y = np.array([classes.index(r["true"]) for r in rows], dtype=int)
    probs = np.array([[r["probabilities"][c] for c in classes] for r in rows], dtype=float).reshape(len(rows), len(classes))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    roc_plot(y, probs, classes, out / FIGURES[0])
    confusion_plot(np.array(report.confusion_matrix), classes, out / FIGURES[1])
    reliability_plot(report.calibration_bins, report.value("ece"), out / FIGURES[2])
    return list(FIGURES)


def write_evaluation_figures(report: MetricsReport, out_dir: str | Path) -> list[str]:
    """The figures ``tumorscope evaluate`` writes beside metrics.json (classification: ROC, confusion matrix,
    calibration; segmentation: none, its per-patient rows go to per_patient.csv)."""
    return write_classification_figures(report, out_dir) if report.task == "classification" else []
