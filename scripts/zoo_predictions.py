"""Predictions of every bundled model on a fixed, small subset of the shared data, as JSON.

Run before and after a change to check that the zoo models still predict the same:

    python scripts/zoo_predictions.py -o before.json
    python scripts/zoo_predictions.py -o after.json --compare before.json   # equal to 3 decimals

The subset is deterministic (manifest order): 3 LGG patients, 10 brain-MRI test images per class,
7 BUSI images per class, 10 colon histopathology images per class.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SUBSETS = {  # bundle -> (dataset folder, relpath prefix, images per class)
    "brain-mri-tumor-type": ("brain_tumor_mri_4class", "Testing/", 10),
    "breast-us-lesion": ("busi", "Dataset_BUSI_with_GT/", 7),
    "colon-histo-tumor": ("histopathology", "lung_colon_image_set/colon_image_sets/", 10),
}
LGG_PATIENTS = 3


def _segment(bundle: Any, inp: Any) -> tuple[np.ndarray, np.ndarray]:
    try:  # the model-running API since the predict/ modules were named by role
        from tumorscope.predict.segmentation import segment
    except ImportError:  # before: predict/segment.py
        from tumorscope.predict.segment import segment  # type: ignore[attr-defined,no-redef]
    return segment(bundle, inp)


def lgg(data: Path) -> dict[str, Any]:
    from tumorscope.bundle import load_bundle
    from tumorscope.evaluate.overlap import dice
    from tumorscope.predict.inputs import read_input

    bundle = load_bundle("lgg-flair-seg")
    out: dict[str, Any] = {}
    for pdir in sorted((data / "lgg_mri_segmentation" / "kaggle_3m").iterdir())[:LGG_PATIENTS]:
        inp = read_input(pdir)
        prob, mask = _segment(bundle, inp)
        out[pdir.name] = {
            "dice": float(dice(mask, inp.truth)),
            "mask_voxels": int(mask.sum()),
            "prob_sum": float(prob.astype(np.float64).sum()),
            "prob_max": float(prob.max()),
        }
    return out


def classify(name: str, data: Path) -> dict[str, Any]:
    from tumorscope.bundle import load_bundle
    from tumorscope.predict.classify import predict_files

    folder, prefix, per_class = SUBSETS[name]
    by_class: dict[str, list[str]] = {}
    with open(data / folder / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["relpath"].startswith(prefix) and row["label"]:
                by_class.setdefault(row["label"], []).append(row["relpath"])
    bundle = load_bundle(name)
    picked = [(lab, rel) for lab in sorted(by_class) if lab in bundle.classes
              for rel in sorted(by_class[lab])[:per_class]]
    got = predict_files(bundle, [data / folder / rel for _, rel in picked], desc=name)
    cases = {rel: {"label": lab, "probs": [float(p) for p in probs],
                   "predicted": bundle.classes[int(np.argmax(probs))]}
             for (lab, rel), probs in zip(picked, got.probs, strict=True)}
    acc = float(np.mean([c["predicted"] == c["label"] for c in cases.values()]))
    return {"accuracy": acc, "cases": cases}


def run(data: Path) -> dict[str, Any]:
    import torch

    torch.manual_seed(0)
    results = {"lgg-flair-seg": lgg(data)}
    for name in SUBSETS:
        results[name] = classify(name, data)
    return results


def compare(a: Any, b: Any, where: str = "") -> list[str]:
    """Differences between two results, numbers compared to 3 decimals."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys differ"]
        return [d for k in a for d in compare(a[k], b[k], f"{where}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: lengths differ"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in compare(x, y, f"{where}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        return [] if round(a, 3) == round(b, 3) else [f"{where}: {a} != {b}"]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--compare", type=Path, help="baseline JSON to compare against (3 decimals)")
    args = ap.parse_args()
    results = run(args.data)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    if args.compare:
        diffs = compare(json.loads(args.compare.read_text()), results)
        exact = json.loads(args.compare.read_text()) == results
        print("\n".join(diffs) or f"equal to 3 decimals (exactly equal: {exact})")
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
