"""Round 14b: copies of the six E3D3R members whose best.pt holds each run's LAST epoch (checkpoint.pt's model),
into runs/cls14/last/; then `python experiments/cls14/resume_folds.py 'last/brain_*'` scores them."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import copy_last_epoch  # noqa: E402

SRC = ["runs/cls11/brain_dn121_128_s0", "runs/cls11/brain_dn121_128_s1", "runs/cls12/brain_dn121_128_s2",
       "runs/cls9/brain_r18_192_s0", "runs/cls10/brain_r18_192_s1", "runs/cls10/brain_r18_192_s2"]
for s in map(Path, SRC):
    copy_last_epoch(s, Path("runs/cls14/last") / s.name)
