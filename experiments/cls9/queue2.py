"""Round 9 job queue after the 15:45 amendment: --patience 80 (no early stopping) for every fold still to run;
a fold that stopped early under --patience 25 is moved to runs/cls9/early_stopped/ and re-run from scratch.
Two one-thread processes at a time, in the order listed."""
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import brain_recipe, cv_fold, run_jobs  # noqa: E402

MEMBERS = {"brain_r18_192_s0": "--size 192 --seed 0", "brain_crop_s0": "--size 128 --seed 0",
           "brain_crop_s1": "--size 128 --seed 1", "brain_crop_s2": "--size 128 --seed 2"}
ASIDE = Path("runs/cls9/early_stopped")
order = [(m, f) for f in range(5) for m in ("brain_r18_192_s0", "brain_crop_s0")]
order += [("brain_crop_s1", f) for f in range(5)] + [("brain_crop_s2", f) for f in range(5)]  # 15:42: s2, not 192-s1
for m, f in order:
    s = Path(f"runs/cls9/{m}/fold{f}/train_summary.json")
    if s.exists() and json.loads(s.read_text()).get("stop_reason") == "early_stopping":
        ASIDE.mkdir(exist_ok=True)
        shutil.move(s.parent, ASIDE / f"{m}_fold{f}")
        print(f"{m} fold {f} had stopped early: moved aside, re-queued", flush=True)
sys.exit(run_jobs([cv_fold(f"runs/cls9/{m}", f, [*brain_recipe(), "--model", "resnet18", *MEMBERS[m].split()])
                   for m, f in order]))
