"""Round 9 job queue: (member, fold) trainings of 128- and 192-px ResNet-18s with the foreground crop, --patience 25,
two at a time on one thread each, in the order listed (superseded at 15:45 by queue2.py)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import brain_recipe, cv_fold, run_jobs  # noqa: E402

MEMBERS = {"brain_r18_192_s0": "--size 192 --seed 0", "brain_crop_s0": "--size 128 --seed 0",
           "brain_crop_s1": "--size 128 --seed 1", "brain_r18_192_s1": "--size 192 --seed 1"}
order = [(m, f) for f in range(5) for m in ("brain_r18_192_s0", "brain_crop_s0")]
order += [("brain_crop_s1", f) for f in range(5)] + [("brain_r18_192_s1", f) for f in range(5)]
sys.exit(run_jobs([cv_fold(f"runs/cls9/{m}", f, [*brain_recipe(patience=25), "--model", "resnet18",
                                                 *MEMBERS[m].split()]) for m, f in order]))
