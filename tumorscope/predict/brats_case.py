"""``tumorscope predict`` with a BraTS region bundle on one case folder: the label map in BraTS labels on the
case's own grid (``<case>.nii.gz``, the BraTS submission name), region volumes in ``summary.json`` and one
overlay per axial slice with tumor (edema green, necrotic/non-enhancing core red, enhancing tumor yellow)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import atomic_path
from tumorscope.bundle import Bundle
from tumorscope.data.brats import REGIONS, decode_regions, voxel_ml
from tumorscope.data.brats_cases import Case
from tumorscope.data.brats_volumes import check_modalities, prepare_arrays, read_modalities
from tumorscope.data.layouts import brats_cases
from tumorscope.errors import TumorscopeError
from tumorscope.io import write_image
from tumorscope.predict.brats_plan import BratsPlan
from tumorscope.predict.brats_regions import RegionPost, plan_probabilities, to_original
from tumorscope.predict.overlay import region_overlay, save_rgb
from tumorscope.predict.volumetric import SlidingWindow


def read_case_folder(folder: Path) -> Case:
    """The one BraTS case in ``folder``; one clear error when there is none, several, or a modality is missing."""
    if not folder.is_dir():
        raise TumorscopeError("a BraTS model reads a case folder (<case>/<case>_{flair,t1,t1ce,t2}.nii.gz)", folder)
    samples = brats_cases.load(folder)
    if not samples:
        raise TumorscopeError("no BraTS case files here: expected <case>_{flair,t1,t1ce,t2}.nii.gz named after the "
                              "folder (or the 2023 names -t2f, -t1n, -t1c, -t2w)", folder)
    if len(samples) > 1:
        raise TumorscopeError(f"holds {len(samples)} BraTS cases: give one case folder", folder)
    case = Case.of(samples[0])
    check_modalities(case)
    return case


def case_probabilities(bundle: Bundle, images: np.ndarray, spacing: Any, case_id: str, tta: bool) -> np.ndarray:
    """(3, Z, Y, X) WT/TC/ET probabilities of a BraTS region bundle on one case's stacked modalities, on the
    case's own grid: the bundle's plan (brain crop, z-score, resampling), sliding window, upsampled back."""
    plan = BratsPlan.from_dict(bundle.config["brats"]["plan"])
    prepared = prepare_arrays(images, spacing, plan.spacing, case_id=case_id)
    window = SlidingWindow.from_dict(bundle.config["volumetric"])
    return to_original(plan_probabilities(bundle.model, prepared, window, tta=tta), prepared)


def predict_brats(bundle: Bundle, folder: Path, out: Path, tta: bool = False) -> dict[str, Any]:
    """Predict one case folder into ``out`` (atomically); returns the summary."""
    start = time.monotonic()
    case = read_case_folder(folder)
    post = RegionPost.from_dict(bundle.config["brats"]["postprocessing"])
    images, spacing, like = read_modalities(case)
    probs = case_probabilities(bundle, images, spacing, case.id, tta)
    masks = post.masks(probs)
    et_relabelled = bool(post.et_min_voxels) and not masks[2].any() and bool((probs[2] >= post.threshold).any())
    del probs
    labels = decode_regions(masks, case.scheme)
    ml = voxel_ml(like.spacing)
    summary: dict[str, Any] = {
        "model": bundle.name, "case": case.id, "input": str(folder), "label_scheme": case.scheme.name,
        "labels": {str(k): v for k, v in case.scheme.labels.items()},
        "tumor_found": bool(masks[0].any()),
        "regions": {r: {"voxels": int(m.sum()), "volume_ml": round(float(m.sum()) * ml, 3)} for r, m in zip(REGIONS, masks)},
        "slices_with_tumor": [int(z) for z in np.flatnonzero(masks[0].any(axis=(1, 2)))],
        "postprocessing": post.to_dict() | {"et_relabelled_to_core": et_relabelled},
        "tta": tta,
    }
    with atomic_path(out) as tmp:
        tmp.mkdir()
        write_image(like.with_array(labels[..., None]), tmp / f"{case.id}.nii.gz")
        parts = {"edema": masks[0] & ~masks[1], "core": masks[1] & ~masks[2], "enhancing": masks[2]}
        for z in summary["slices_with_tumor"]:
            save_rgb(region_overlay(images[0, z], {k: v[z] for k, v in parts.items()}),
                     tmp / "overlays" / f"slice_{z:03d}.png")
        summary["seconds"] = round(time.monotonic() - start, 2)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
