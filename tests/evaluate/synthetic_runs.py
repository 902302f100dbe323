"""Evaluation folders as ``tumorscope evaluate`` writes them (its own writers), from synthetic predictions."""

from pathlib import Path

import numpy as np

from tumorscope.evaluate.classification import classification_report, prediction_rows
from tumorscope.evaluate.cli import write_per_patient_csv
from tumorscope.evaluate.segmentation import PatientResult, segmentation_report

CLASSES = ["glioma", "meningioma", "notumor"]
N = 120  # images: 40 patients of 3 slices


def _truth() -> tuple[np.ndarray, list[str], list[str]]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, N)
    paths = [f"data/{CLASSES[c]}/img{i:03d}.png" for i, c in enumerate(y)]
    return y, paths, [f"P{i // 3:02d}" for i in range(N)]


def write_classification_eval(out: Path, skill: float, seed: int, keep: slice = slice(None)) -> Path:
    """An evaluation folder as ``tumorscope evaluate`` writes it: metrics.json with its per-image predictions."""
    y, paths, groups = _truth()
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(N, 3)) + skill * np.eye(3)[y]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y, probs, paths, groups = y[keep], probs[keep], paths[keep], groups[keep]
    report = classification_report(y, probs, CLASSES, groups, n_boot=200)
    report.per_case = prediction_rows(paths, groups, [None] * len(y), y, probs, CLASSES)
    report.extra.update(model=f"synthetic-{skill}", data="data")
    out.mkdir(parents=True)
    report.write(out / "metrics.json")
    return out


def write_segmentation_eval(out: Path, dice: np.ndarray) -> Path:
    """A segmentation evaluation folder: metrics.json and per_patient.csv from per-patient results."""
    results = [PatientResult(f"TCGA_{i:02d}", 4, float(d), float(d / (2 - d)), 3.0 + i % 5, 100, 90,
                             np.array([False, True, True, False]), np.array([0.1, 0.9, 0.8, 0.2]),
                             np.array([False, True, True, False])) for i, d in enumerate(dice)]
    report = segmentation_report(results, n_boot=200)
    out.mkdir(parents=True)
    write_per_patient_csv(report.per_case, out / "per_patient.csv")
    report.write(out / "metrics.json")
    return out
