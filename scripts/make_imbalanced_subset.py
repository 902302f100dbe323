"""Build an imbalanced view of a class-folder dataset (symlinks, nothing copied) to measure the class-imbalance
options (weighted loss, focal loss, balanced sampling) on real images when the shared subsets are balanced.

Keeps a seeded random ``--keep`` fraction of one class and every image of the others, in ``DST/<class>/``.
Usage: python scripts/make_imbalanced_subset.py SRC DST --minority meningioma --keep 0.2 [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from tumorscope.data.dataset import load_dataset


def make_subset(src: Path, dst: Path, minority: str, keep: float, seed: int) -> Counter[str]:
    """Link the kept images into ``dst`` and return the class counts; refuses a non-empty ``dst``."""
    if dst.exists() and any(dst.iterdir()):
        raise SystemExit(f"error: {dst} exists and is not empty; choose a new folder")
    samples = sorted(load_dataset(src).samples, key=lambda s: str(s.image))
    labels = {s.label for s in samples}
    if minority not in labels:
        raise SystemExit(f"error: class {minority!r} not in {src} (classes: {', '.join(sorted(map(str, labels)))})")
    pool = [s for s in samples if s.label == minority]
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(len(pool), size=max(1, round(keep * len(pool))), replace=False).tolist())
    kept = [s for s in samples if s.label != minority] + [s for i, s in enumerate(pool) if i in chosen]
    for s in kept:
        link = dst / str(s.label) / s.image.name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(s.image.resolve())
    return Counter(str(s.label) for s in kept)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="dataset with one folder per class")
    ap.add_argument("dst", type=Path, help="new folder for the imbalanced view")
    ap.add_argument("--minority", required=True, help="class to thin out")
    ap.add_argument("--keep", type=float, default=0.2, help="fraction of the minority class kept (default 0.2)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not 0 < args.keep <= 1:
        raise SystemExit("error: --keep must be in (0, 1]")
    counts = make_subset(args.src, args.dst, args.minority, args.keep, args.seed)
    print(f"{args.dst}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
