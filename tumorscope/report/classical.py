"""The report's parts for a classical model (radiomics features + scikit-learn): its ROC/confusion/calibration
from the per-slice probabilities in metrics.json, and the feature-importance section (SHAP and permutation
importance written by training as ``importance.csv`` / ``importance.png`` in the run folder)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.report.html import esc, png_tag, table
from tumorscope.results import MetricsReport

TOP = 15


def classical_evidence(bundle: Any, metrics: MetricsReport | None) -> Any:
    """Evidence of the scored rows (no images: no gallery, no embeddings); None without predictions."""
    from tumorscope.explain.evidence import Evidence

    rows = metrics.per_case if metrics is not None and metrics.task == "classification" else []
    if not rows:
        return None
    classes = bundle.classes
    y = np.array([classes.index(r["true"]) for r in rows], dtype=int)
    probs = np.array([[r["probabilities"][c] for c in classes] for r in rows], dtype=float)
    return Evidence("classification", classes, y, probs)


def _find(folders: Iterable[Path]) -> Path | None:
    """The run folder holding importance.csv: a source folder or its parent (an evaluation inside the run)."""
    for folder in folders:
        for cand in (folder, folder.parent):
            if (cand / "importance.csv").is_file():
                return cand
    return None


def importance_html(folders: Iterable[Path]) -> str:
    """The section's HTML: the plot and the top features' table, or a note when training wrote none."""
    run = _find(folders)
    if run is None:
        return '<p class="missing">Not shown: no importance.csv in the run folder (training writes it when the run ' \
               'has validation patients)</p>'
    with (run / "importance.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    body = (f'<p class="note">{len(rows)} selected features, measured on the validation patients '
            f'({esc(run / "importance.csv")}): mean |SHAP| of the positive class\'s probability, and the drop in '
            'AUC when the feature is shuffled (mean and 95% range over 10 repeats).</p>')
    if (run / "importance.png").is_file():
        body += png_tag((run / "importance.png").read_bytes(), "feature importance")
    shown = [[r["feature"], float(r["mean_abs_shap"]), float(r["importance"]),
              f"[{float(r['ci95_low']):.3f}, {float(r['ci95_high']):.3f}]"] for r in rows[:TOP]]
    return body + table(["feature", "mean |SHAP|", "permutation AUC drop", "95% range"], shown)
