"""Objectives with a known optimum for the tune tests, given to `tumorscope tune --objective` (the path a real
trial takes, with the training replaced by a formula of the trial's options)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from tumorscope.options import TrainConfig

BEST_LR, BEST_WIDTH = 1e-3, 16


def score(cfg: TrainConfig) -> float:
    """1 at lr 1e-3 and width 16, lower elsewhere (smooth in log lr)."""
    return 1.0 - (math.log10(cfg.lr) - math.log10(BEST_LR)) ** 2 - ((cfg.width - BEST_WIDTH) / 16) ** 2


def quadratic(cfg: TrainConfig, out: Path, folds: list[int]) -> dict[str, Any]:
    """The score as a cross-validation summary would hold it; records each call in the tune folder."""
    out.mkdir(parents=True, exist_ok=True)
    assert cfg.splits and Path(cfg.splits).name == "tune_splits.json" and cfg.fold is None
    with open(out.parents[1] / "calls.log", "a") as f:
        f.write(f"{out.name} {cfg.lr!r} {cfg.width}\n")
    if os.environ.get("TUNE_TEST_HANG") == out.name:  # the test kills the process here
        (out / "hanging").touch()
        time.sleep(300)
    time.sleep(float(os.environ.get("TUNE_TEST_SECONDS", 0)))  # a trial that takes time (the --timeout test)
    return {"task": cfg.task, "folds_done": len(folds), "score_mean": score(cfg)}
