"""Round 12 job queue: DenseNet-121 seeds 1 and 2 (128 px, round 9 crop recipe, round 9 split file).
Two one-thread processes at a time (seed 1 lives in runs/cls11, where round 11 had started it)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import brain_recipe, cv_fold, run_jobs  # noqa: E402

members = [("runs/cls11/brain_dn121_128_s1", 1), ("runs/cls12/brain_dn121_128_s2", 2)]
sys.exit(run_jobs([cv_fold(out, f, [*brain_recipe(), "--model", "densenet121", "--size", "128", "--seed", str(s)])
                   for out, s in members for f in range(5)]))
