"""How many of an ensembled CV's held-out errors its members share (classification).

Usage: python scripts/ensemble_error_overlap.py ENSEMBLE_CV_DIR
ENSEMBLE_CV_DIR is a `tumorscope ensemble --cv ...` folder; its members are read from its cv_config.json and every
image is scored by the fold model that held it out (each fold's test_metrics.json predictions).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def errors(run: Path) -> dict[str, bool]:
    """Held-out image path -> misclassified, pooled over a CV folder's folds."""
    wrong: dict[str, bool] = {}
    for metrics in sorted(run.glob("fold*/test_metrics.json")):
        for p in json.loads(metrics.read_text())["predictions"]:
            wrong[p["path"]] = p["true"] != p["predicted"]
    return wrong


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ens = Path(argv[0])
    config = ens / "cv_config.json"
    member_dirs = json.loads(config.read_text()).get("ensemble_of") if config.is_file() else None
    if not member_dirs:
        print(f"error: {config}: not an ensembled CV folder (no cv_config.json with 'ensemble_of')", file=sys.stderr)
        return 2
    members = [errors(Path(m)) for m in member_dirs]
    ensemble = errors(ens)
    shared = Counter(sum(m[p] for m in members) for p, wrong in ensemble.items() if wrong)
    k = len(members)
    print(f"{ens}: {sum(shared.values())} errors on {len(ensemble)} held-out images; members' errors "
          f"{[sum(m.values()) for m in members]}")
    print("| members also wrong | ensemble errors |\n|---|---|")
    for n in range(k + 1):
        print(f"| {n} of {k} | {shared.get(n, 0)} |")
    print(f"images all {k} members get wrong: {sum(all(m[p] for m in members) for p in ensemble)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
