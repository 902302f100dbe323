"""Round 14b: the six E3D3R networks on all 1,469 images (no validation), 58 epochs, two one-thread jobs at a time."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Job, brain_recipe, run_jobs  # noqa: E402

NETS = [("densenet121", 128, "dn121", s) for s in (0, 1, 2)] + [("resnet18", 192, "r18", s) for s in (0, 1, 2)]
jobs = []
for model, size, short, seed in NETS:
    out = Path(f"runs/cls14/final/brain_{short}_{size}_s{seed}")
    jobs.append(Job(out.name, ["train", *brain_recipe(epochs=58, patience=80, cv=False), "--threads", "1", "--model",
                               model, "--size", str(size), "--seed", str(seed), "--out", str(out)],
                    out.parent / "logs" / f"{out.name}.log", out / "bundle"))
sys.exit(run_jobs(jobs))
