"""Round 11 job queue: a DenseNet-121 (w32, growth 16) member with round 9's crop recipe, on round 9's split file.
Folds 0-3 two one-thread processes at a time, fold 4 alone with two threads."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import brain_recipe, cv_fold, run_jobs  # noqa: E402

A = [*brain_recipe(), "--model", "densenet121", "--size", "128", "--seed", "0"]
sys.exit(run_jobs([cv_fold("runs/cls11/brain_dn121_128_s0", f, A, threads=2 if f == 4 else 1) for f in range(5)]))
