"""Round 12b: ResNet-18 w32 at 224 px, seed 0 (round 9 recipe and split file), folds 0-3, two one-thread at a time."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import brain_recipe, cv_fold, run_jobs  # noqa: E402

A = [*brain_recipe(), "--model", "resnet18", "--size", "224", "--seed", "0"]
sys.exit(run_jobs([cv_fold("runs/cls12b/brain_r18_224_s0", f, A) for f in range(4)]))
