"""Round 10 job queue: two more 192-px seeds of round 9's member recipe (no early stopping), on round 9's split
file. Two one-thread processes at a time, seed 1's folds first so that a whole member exists early."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import brain_recipe, cv_fold, run_jobs  # noqa: E402

sys.exit(run_jobs([cv_fold(f"runs/cls10/brain_r18_192_s{s}", f,
                           [*brain_recipe(), "--model", "resnet18", "--size", "192", "--seed", str(s)])
                   for s in (1, 2) for f in range(5)]))
