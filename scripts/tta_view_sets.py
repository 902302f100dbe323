"""Geometric test-time views for an ensembled classification CV, chosen per fold on validation (round 13).

Usage:
  python scripts/tta_view_sets.py predict ENSEMBLE_CV_DIR OUT_DIR [FOLD ...]   # probabilities per view -> OUT_DIR/foldF.npz
  python scripts/tta_view_sets.py choose OUT_DIR                              # choose on validation, score on test

``predict`` stores each fold bundle's probabilities on its validation and test images for every view in VIEWS
(each also mirrored). ``choose`` picks, per fold, the view set of SETS with the best validation selection score (the
smaller set on a tie), scores the chosen sets on the pooled test folds against the fold's stored mirror choice, and
prints every set's pooled test accuracy for the record (never used to choose).
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tumorscope.atomic import atomic_path

# name -> (zoom, rotation in degrees, shift x, shift y as a fraction of half the image)
VIEWS: dict[str, tuple[float, float, float, float]] = {
    "id": (1.0, 0.0, 0.0, 0.0), "zin": (1.1, 0.0, 0.0, 0.0), "zout": (0.9, 0.0, 0.0, 0.0),
    "rp": (1.0, 10.0, 0.0, 0.0), "rm": (1.0, -10.0, 0.0, 0.0), "sx": (1.0, 0.0, 0.06, 0.0), "sy": (1.0, 0.0, 0.0, 0.06)}


def mirrored(*names: str) -> list[str]:
    """Each view and its left-right mirror (``NAME_f``)."""
    return [v for n in names for v in (n, f"{n}_f")]


SETS: dict[str, list[str]] = {
    "none": ["id"], "mirror": mirrored("id"), "zoom": mirrored("id", "zin", "zout"),
    "rot": mirrored("id", "rp", "rm"), "shift": mirrored("id", "sx", "sy"), "all": mirrored(*VIEWS)}


def warp(x: torch.Tensor, zoom: float, degrees: float, tx: float, ty: float) -> torch.Tensor:
    """(N, C, H, W) images zoomed, rotated about the centre and shifted (bilinear, zero outside)."""
    if (zoom, degrees, tx, ty) == (1.0, 0.0, 0.0, 0.0):
        return x
    a = math.radians(degrees)
    c, s = math.cos(a) / zoom, math.sin(a) / zoom
    theta = torch.tensor([[c, -s, tx], [s, c, ty]], dtype=x.dtype).expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def predict_views(ens: Path, fold: int) -> dict[str, np.ndarray]:
    """Fold ``fold`` of an ensembled CV: labels, paths and per-view probabilities on its val and test images."""
    from tumorscope.bundle import load_bundle
    from tumorscope.data.dataset import load_dataset
    from tumorscope.data.dedup import training_dedup
    from tumorscope.data.splits import load_splits, select
    from tumorscope.train.classification import load_images
    from tumorscope.train.selection import validation_views

    bundle = load_bundle(ens / f"fold{fold}" / "bundle")
    split = load_splits(ens / f"fold{fold}" / "splits.json")[0]
    ds = training_dedup(load_dataset(bundle.config["training"]["members"][0]["config"]["data"])).dataset
    out: dict[str, np.ndarray] = {"mirror_chosen": np.array(bundle.tta)}
    for part in ("val", "test"):
        samples = select(ds, split, part)
        images = load_images(samples, bundle.preprocessor, bundle.classes, desc=part)
        out[f"{part}_y"], out[f"{part}_paths"] = images.y.numpy(), np.array([str(s.image) for s in samples])
        for name, params in VIEWS.items():  # each view and its mirror, as the mirror choice predicts them
            out[f"{part}_{name}"], out[f"{part}_{name}_f"] = validation_views(
                bundle.model, replace(images, x=warp(images.x, *params)))
    return out


def mean_views(fold: Any, part: str, views: list[str]) -> np.ndarray:
    """The mean probabilities of ``views`` on one part (val / test) of a fold's stored predictions."""
    return np.mean([fold[f"{part}_{v}"] for v in views], axis=0)


def choose(folds: list[Any]) -> dict[str, Any]:
    """Per fold the set with the best validation score; pooled test correct counts of the chosen sets, of the
    fold's stored mirror choice and of every set."""
    from tumorscope.train.selection import selection_score

    chosen = []
    correct: dict[str, int] = dict.fromkeys([*SETS, "chosen", "stored"], 0)
    fixed = broken = 0
    for f in folds:
        val = {s: selection_score(torch.from_numpy(f["val_y"]), mean_views(f, "val", v))["score"]
               for s, v in SETS.items()}
        best = max(SETS, key=lambda s: (val[s], -len(SETS[s])))
        chosen.append(best)
        hits = {s: mean_views(f, "test", v).argmax(1) == f["test_y"] for s, v in SETS.items()}
        hits["chosen"], hits["stored"] = hits[best], hits["mirror" if bool(f["mirror_chosen"]) else "none"]
        for s, h in hits.items():
            correct[s] += int(h.sum())
        fixed += int((hits["chosen"] & ~hits["stored"]).sum())
        broken += int((~hits["chosen"] & hits["stored"]).sum())
    return {"n": sum(len(f["test_y"]) for f in folds), "chosen": chosen, "correct": correct, "fixed": fixed, "broken": broken}


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "predict":
        ens, out = Path(argv[1]), Path(argv[2])
        out.mkdir(parents=True, exist_ok=True)
        for fold in [int(a) for a in argv[3:]] or range(len(list(ens.glob("fold*/bundle")))):
            target = out / f"fold{fold}.npz"
            with atomic_path(target) as tmp, tmp.open("wb") as fh:
                np.savez(fh, **predict_views(ens, fold))
            print(f"fold {fold}: {target}", flush=True)
        return 0
    if len(argv) == 2 and argv[0] == "choose":
        files = sorted(Path(argv[1]).glob("fold*.npz"))
        if not files:
            print(f"error: {argv[1]}: no foldF.npz files (run `predict` first)", file=sys.stderr)
            return 2
        r = choose([np.load(p) for p in files])
        print(f"chosen on validation per fold: {r['chosen']}")
        print("| views | correct | accuracy |\n|---|---|---|")
        for s, c in r["correct"].items():
            print(f"| {s} | {c}/{r['n']} | {c / r['n']:.4f} |")
        print(f"chosen vs stored mirror choice: {r['fixed']} fixed / {r['broken']} broken")
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
