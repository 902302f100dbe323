"""Round 15: new seeds 3-5 of the brain bundle's two networks with --keep last, one fold per job, two one-thread
jobs at a time; folds given on the command line (default 0). Finished folds are skipped, so it can be re-run."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import brain_recipe, cv_fold, run_jobs  # noqa: E402

folds = [int(f) for f in sys.argv[1:]] or [0]
NETS = [("densenet121", 128, "dn121_128"), ("resnet18", 192, "r18_192")]
sys.exit(run_jobs([cv_fold(f"runs/cls15/brain_{name}_s{seed}", f,
                           [*brain_recipe(), "--keep", "last", "--model", model, "--size", str(size), "--seed", str(seed)])
                   for f in folds for seed in (3, 4, 5) for model, size, name in NETS]))
