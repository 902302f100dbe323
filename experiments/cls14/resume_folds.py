"""Round 14 / 14b: resume every fold of the CV runs matching GLOB under runs/cls14 (`tumorscope train --resume`,
extra options after the glob), two one-thread jobs at a time. Round 14: `python experiments/cls14/resume_folds.py
'*_pbn' --precise-bn`; round 14b: `python experiments/cls14/resume_folds.py 'last/brain_*'`."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import resume_fold, run_jobs  # noqa: E402

members = sorted(p for p in Path("runs/cls14").glob(sys.argv[1]) if p.is_dir())
sys.exit(run_jobs([resume_fold(m, f, *sys.argv[2:]) for f in range(5) for m in members]))
