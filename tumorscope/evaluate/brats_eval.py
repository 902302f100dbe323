"""BraTS evaluation of a folder of predicted label maps against a BraTS dataset, with bootstrap CIs over cases.

Predictions are NIfTI label maps in the dataset's own labels (1/2/4, or 1/2/3 for BraTS 2023 and MSD), on the
case's grid, named ``<case>.nii.gz`` as BraTS submissions are (``<case>_seg``, ``-seg``, ``_pred`` also match),
at any depth below the folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.data.brats import REGIONS, nifti_stem
from tumorscope.data.brats_cases import BRATS_LAYOUTS, Case, read_labels
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.bootstrap import bootstrap_ci
from tumorscope.evaluate.brats_metrics import LesionRules, case_scores
from tumorscope.progress import progress
from tumorscope.results import CIMethod, Estimate, MetricsReport, legacy_ci_key

_SUFFIXES = ("_seg", "-seg", "_pred", "-pred", "_prediction")
# per-case score -> name of its mean in the report (as the segmentation report names them)
_MEANS = {"dice": "dice_mean", "hd95_mm": "hd95_mean_mm", "lesion_dice": "lesion_dice_mean",
          "lesion_hd95_mm": "lesion_hd95_mean_mm", "lesion_sensitivity": "lesion_sensitivity_mean",
          "false_positives": "false_positives_mean", "truth_ml": "truth_ml_mean", "pred_ml": "pred_ml_mean",
          "volume_error_ml": "volume_error_ml_mean"}


def prediction_files(folder: Path, case_ids: list[str]) -> dict[str, Path]:
    """Case id -> its predicted label map in ``folder``; TumorscopeError naming the cases without one."""
    if not folder.is_dir():
        raise TumorscopeError("no such folder of predictions", folder)
    wanted, found = set(case_ids), dict[str, Path]()
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            stem = nifti_stem(Path(name))
            if stem is None or name.startswith("."):
                continue
            key = next((stem[: -len(s)] for s in _SUFFIXES if stem.endswith(s)), stem)
            if key in wanted:
                if key in found:
                    raise TumorscopeError(f"two predictions for case {key} ({found[key]})", Path(parent) / name)
                found[key] = Path(parent) / name
    missing = [c for c in case_ids if c not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise TumorscopeError(f"no prediction for {len(missing)} of {len(case_ids)} case(s): {shown} "
                              "(expected <case>.nii.gz)", folder)
    return found


def score_predictions(samples: list[Sample], layout: str, folder: Path,
                      rules: LesionRules | None = None) -> list[dict[str, Any]]:
    """One row per case: ``case`` and ``<region>_<score>`` for every region and score."""
    if layout not in BRATS_LAYOUTS:
        raise TumorscopeError(f"--predictions needs a BraTS dataset (layout brats or msd_brats), found {layout}")
    cases = [Case.of(s) for s in samples if s.masks]
    if not cases:
        raise TumorscopeError("no case with a segmentation to compare with", folder)
    files = prediction_files(folder, [c.id for c in cases])
    rows = []
    for case in progress(cases, "scoring cases", total=len(cases)):
        assert case.seg is not None
        truth, spacing = read_labels(case.seg)
        pred, _ = read_labels(files[case.id])
        if pred.shape != truth.shape:
            raise TumorscopeError(f"prediction shape {pred.shape[::-1]} differs from the segmentation's "
                                  f"{truth.shape[::-1]} (x, y, z)", files[case.id])
        bad = sorted(set(np.unique(pred).tolist()) - case.scheme.allowed)
        if bad:
            raise TumorscopeError(f"labels {bad} are not {case.scheme.name} labels {sorted(case.scheme.allowed)}",
                                  files[case.id])
        row: dict[str, Any] = {"case": case.id, "prediction": str(files[case.id])}
        rows.append(row | region_columns(case_scores(pred, truth, spacing, case.scheme, rules)))
    return rows


def region_columns(scores: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Region -> scores as one row's ``<region>_<score>`` columns, with the volume error (predicted - true)."""
    row: dict[str, Any] = {}
    for region, values in scores.items():
        values = values | {"volume_error_ml": values["pred_ml"] - values["truth_ml"]}
        row.update({f"{region}_{k}": v for k, v in values.items()})
    return row


def brats_report(rows: list[dict[str, Any]], rules: LesionRules | None = None, n_boot: int = 2000,
                 seed: int = 0, regions: tuple[str, ...] = REGIONS) -> MetricsReport:
    """Means over cases with 95% percentile-bootstrap CIs (cases resampled), per region (those of ``regions``
    the rows score); medians of Dice/HD95.

    The report's estimates are named ``<region>_<metric>`` (``WT_dice_mean``); ``extra["regions"]`` nests them
    as ``regions -> WT -> dice_mean, dice_ci95, hd95_mean_mm, ...``."""
    rules = rules or LesionRules()
    metrics: dict[str, Estimate] = {}
    blocks: dict[str, dict[str, Any]] = {}
    for region in regions:
        block: dict[str, Any] = {}
        for score, name in _MEANS.items():
            values = np.array([r[f"{region}_{score}"] for r in rows], dtype=float)
            finite = values[np.isfinite(values)]
            est = Estimate.of(float(finite.mean()) if finite.size else float("nan"),
                              bootstrap_ci(values, n_boot=n_boot, seed=seed), n=int(finite.size), unit="case")
            metrics[f"{region}_{name}"] = est
            block[name] = est.value
            block[legacy_ci_key(name)] = [est.low, est.high]
        block["dice_median"] = float(np.median([r[f"{region}_dice"] for r in rows]))
        block["hd95_median_mm"] = float(np.median([r[f"{region}_hd95_mm"] for r in rows]))
        block["n_cases"] = len(rows)
        block["n_empty_truth"] = sum(r[f"{region}_truth_ml"] == 0 for r in rows)
        block["lesions"] = int(sum(r[f"{region}_lesions"] for r in rows))
        block["lesions_detected"] = int(sum(r[f"{region}_lesions_detected"] for r in rows))
        block["false_positives"] = int(sum(r[f"{region}_false_positives"] for r in rows))
        blocks[region] = block
    return MetricsReport(task="brats", metrics=metrics, counts={"n_cases": len(rows)}, per_case=rows,
                         ci=CIMethod(unit="case", n_boot=n_boot),
                         extra={"regions": blocks, "conventions": rules.to_json()})


def format_brats_metrics(report: MetricsReport) -> str:
    """One line per region: Dice and HD95 means with CIs, lesion-wise scores, volumes."""
    lines = [f"cases: {report.counts.get('n_cases')}"]
    for region in report.extra.get("regions", REGIONS):
        def est(name: str, digits: int = 3, region: str = region) -> str:
            e = report.estimate(f"{region}_{name}")
            return "n/a" if e is None else e.format(digits)

        lines.append(f"{region}: Dice {est('dice_mean')}  HD95 {est('hd95_mean_mm', 2)} mm  "
                     f"lesion-wise Dice {est('lesion_dice_mean')} HD95 {est('lesion_hd95_mean_mm', 2)} mm  "
                     f"sensitivity {est('lesion_sensitivity_mean')}  FP/case {est('false_positives_mean', 2)}  "
                     f"volume truth {est('truth_ml_mean', 1)} pred {est('pred_ml_mean', 1)} mL")
    return "\n".join(lines)
