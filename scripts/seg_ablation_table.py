"""Markdown table of segmentation runs: validation Dice (what choices were made on) beside the held-out test Dice.

Usage: python scripts/seg_ablation_table.py RUN_DIR [RUN_DIR ...]
Each RUN_DIR is a `tumorscope train --fold K` folder (train_summary.json, test_metrics.json, config.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(run: Path) -> str:
    cfg = json.loads((run / "config.json").read_text())
    summary = json.loads((run / "train_summary.json").read_text())
    test = json.loads((run / "test_metrics.json").read_text())
    lo, hi = test["dice_ci95"]
    recipe = f"{cfg['model']}, channels={cfg['channels']}, enhancement={cfg['enhancement']}, {cfg['epochs']} epochs"
    return (f"| {run} | {recipe} | {cfg['fold']} | {summary['best_score']:.3f} | {test['dice_mean']:.3f} "
            f"[{lo:.3f}, {hi:.3f}] | {test['dice_median']:.3f} | {test['slice_specificity']:.3f} | "
            f"{summary['train_seconds'] / 60:.1f} |")


def postprocess_row(run: Path) -> str:
    """Validation Dice of the plain default, each option alone, and the chosen combination."""
    search = json.loads((run / "postprocess_search.json").read_text())
    score = {(r["tta"], r["threshold"], r["min_size"]): r["val_dice"] for r in search["candidates"]}
    chosen = json.loads((run / "train_summary.json").read_text())["postprocessing"]
    best_size = max((0, 50, 150, 400), key=lambda m: score[(False, 0.5, m)])
    best_thr = max((0.3, 0.4, 0.5, 0.6), key=lambda t: score[(False, t, 0)])
    return (f"| {run} | {search['n_val_volumes']} | {score[(False, 0.5, 0)]:.4f} | {score[(True, 0.5, 0)]:.4f} | "
            f"{score[(False, 0.5, best_size)]:.4f} (min_size {best_size}) | {score[(False, best_thr, 0)]:.4f} "
            f"(threshold {best_thr}) | tta={chosen['tta']}, threshold={chosen['threshold']}, "
            f"min_size={chosen['min_size']}: "
            f"{score[(chosen['tta'], chosen['threshold'], chosen['min_size'])]:.4f} |")


def main(runs: list[str]) -> None:
    print("| run | recipe | fold | val Dice (best epoch) | test Dice [95% CI] | test median | slice specificity | train min |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(row(Path(r)))
    with_search = [Path(r) for r in runs if (Path(r) / "postprocess_search.json").exists()]
    if with_search:
        print("\nPost-processing, measured on each run's validation patients (mean per-patient Dice):\n")
        print("| run | val volumes | default (0.5, none) | + flip TTA | + small-component removal | threshold | chosen |")
        print("|---|---|---|---|---|---|---|")
        for r in with_search:
            print(postprocess_row(r))


if __name__ == "__main__":
    main(sys.argv[1:])
