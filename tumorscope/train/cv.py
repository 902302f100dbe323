"""Cross-validation: one training run per fold, then held-out results pooled over folds."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from tumorscope.atomic import write_json
from tumorscope.evaluate.folds import summarize_folds
from tumorscope.options import TrainConfig
from tumorscope.train.run import run_training

__all__ = ["cross_validate"]

log = logging.getLogger(__name__)


def cross_validate(cfg: TrainConfig, out: Path, only: list[int] | None = None) -> dict[str, Any]:
    """Train fold 0..k-1 into ``out/fold<i>`` (folds already finished are kept), then summarise."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "cv_config.json", cfg.to_dict())
    for i in range(cfg.folds):
        if only and i not in only:
            continue
        fold_dir = out / f"fold{i}"
        if (fold_dir / "test_metrics.json").exists():
            log.info("fold %d already done, keeping it", i)
            continue
        resume = (fold_dir / "checkpoint.pt").exists()
        log.info("fold %d/%d%s", i + 1, cfg.folds, " (resuming)" if resume else "")
        run_training(replace(cfg, fold=i, out=str(fold_dir)), resume=resume)
    summary = summarize_folds(out, cfg.folds)
    write_json(out / "cv_summary.json", summary)
    return summary
