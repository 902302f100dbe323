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


def main(runs: list[str]) -> None:
    print("| run | recipe | fold | val Dice (best epoch) | test Dice [95% CI] | test median | slice specificity | train min |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(row(Path(r)))


if __name__ == "__main__":
    main(sys.argv[1:])
