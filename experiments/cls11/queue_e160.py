"""Round 11b job queue: round 9's 128-px ResNet-18 with twice the epochs (160, cosine, no early stopping), on round
9's split file, seeds given on the command line (default 0; round 11b ran seed 0, then `queue_e160.py 1`, one
thread each). Two one-thread processes at a time."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import brain_recipe, cv_fold, run_jobs  # noqa: E402

seeds = [int(s) for s in sys.argv[1:]] or [0]
sys.exit(run_jobs([cv_fold(f"runs/cls11/brain_r18_128_e160_s{s}", f,
                           [*brain_recipe(epochs=160), "--model", "resnet18", "--size", "128", "--seed", str(s)])
                   for s in seeds for f in range(5)]))
