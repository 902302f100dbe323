"""Round 14c: brain 128-px seeds' last epoch (copies, scored by resuming), then BUSI best vs --keep last on a new
split file; two one-thread jobs at a time."""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import TUMORSCOPE, copy_last_epoch, cv_fold, resume_fold, run_jobs  # noqa: E402

jobs = []
for s in range(3):
    src, dst = Path(f"runs/cls9/brain_crop_s{s}"), Path(f"runs/cls14/last128/brain_crop_s{s}")
    copy_last_epoch(src, dst)
    jobs += [resume_fold(dst, f) for f in range(5)]
subprocess.check_call([TUMORSCOPE, "datasets", "split", "../shared/data/busi", "--folds", "5", "--val", "0.1",
                       "--dedup", "--out", "runs/cls14/busi_splits.json"])
B = ("--task classification --data ../shared/data/busi --model resnet18 --width 32 --size 128 --channels gray "
     "--epochs 30 --patience 10 --batch-size 16 --lr 0.002 --val-fraction 0.1 --folds 5 --loss ce "
     "--splits runs/cls14/busi_splits.json").split()
jobs += [cv_fold(f"runs/cls14/busi_{keep}_s{s}", f, [*B, "--seed", str(s), "--keep", keep])
         for s in range(3) for keep in ("best", "last") for f in range(5)]
sys.exit(run_jobs(jobs))
