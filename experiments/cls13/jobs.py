"""Round 13b job queue: 128-px ResNet-18 seed 0 of the round 9 crop recipe with --enhancement histeq / clahe
(round 9 split file), to compare paired with runs/cls9/brain_crop_s0. Two one-thread processes at a time."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import brain_recipe, cv_fold, run_jobs  # noqa: E402

A = [*brain_recipe(), "--model", "resnet18", "--size", "128", "--seed", "0"]
sys.exit(run_jobs([cv_fold(f"runs/cls13/brain_r18_128_{e}", f, [*A, "--enhancement", e])
                   for f in range(5) for e in ("histeq", "clahe")]))
