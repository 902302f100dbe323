"""``predict`` for segmentation bundles: mask in the input's family, overlays, summary.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import atomic_path
from tumorscope.bundle import Bundle
from tumorscope.errors import TumorscopeError
from tumorscope.io.image import Image
from tumorscope.predict.inputs import PredictInput
from tumorscope.predict.postprocess import PostProcess, count_components
from tumorscope.predict.segmentation import predict_probabilities
from tumorscope.predict.volumetric import SlidingWindow, is_volumetric, predict_volume
from tumorscope.report.overlay import overlay, save_rgb

MAX_OVERLAYS = 48
log = logging.getLogger(__name__)


def segment(bundle: Bundle, inp: PredictInput, post: PostProcess | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, mask), each (N, Y, X), for all slices of an input."""
    post = post or bundle.postprocess
    if inp.slices.ndim != 4:
        raise TumorscopeError(f"expected 2-D slices or a volume, got shape {inp.slices.shape}", inp.path)
    if is_volumetric(bundle.model):  # a 3-D bundle: the slices are one volume, run by sliding window
        window = SlidingWindow.for_bundle(bundle.config, inp.slices.shape[:3])
        prob = predict_volume(bundle.model, bundle.preprocessor, inp.slices, window, tta=post.tta, path=inp.path)
    else:
        prob = predict_probabilities(bundle.model, bundle.preprocessor, inp.slices, tta=post.tta, path=inp.path)
    return prob, post(prob)


def write_segmentation(
    bundle: Bundle, inp: PredictInput, out_dir: Path, post: PostProcess | None = None, synthetic: bool = False
) -> dict[str, Any]:
    """Predict and write everything into ``out_dir`` atomically (all files or none)."""
    post = post or bundle.postprocess
    prob, mask = segment(bundle, inp, post)
    tumor_slices = [i for i in range(mask.shape[0]) if mask[i].any()]
    vox = inp.voxel_volume
    summary: dict[str, Any] = {
        "input": str(inp.path),
        "synthetic_example": synthetic,
        "model": bundle.name,
        "tumor_found": bool(mask.any()),
        "probability": float(prob.max()) if prob.size else 0.0,
        "volume_pixels": int(mask.sum()),
        "volume_mm3": float(mask.sum() * vox) if vox is not None else None,
        "volume_unit_note": None if vox is not None else "input has no physical spacing: volume is in pixels",
        "n_components": count_components(mask),
        "n_slices": int(mask.shape[0]),
        "slices_with_tumor": [inp.names[i] for i in tumor_slices],
        "postprocessing": post.to_dict(),
    }
    warnings = modality_warnings(bundle, inp)
    summary["warnings"] = warnings
    for w in warnings:
        log.warning("warning: %s", w)
    if inp.truth is not None:
        from tumorscope.evaluate.overlap import dice

        summary["dice_vs_ground_truth"] = dice(mask, inp.truth)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        files = _write_masks(inp, mask, tmp)
        show = tumor_slices or [int(np.argmax(prob.reshape(len(prob), -1).max(1)))]
        step = max(1, len(show) // MAX_OVERLAYS + (len(show) % MAX_OVERLAYS > 0))
        (tmp / "overlays").mkdir()
        for i in show[::step]:
            truth = inp.truth[i] if inp.truth is not None else None
            save_rgb(overlay(display_channel(inp.slices[i]), mask[i], truth), tmp / "overlays" / f"{inp.names[i]}.png")
        summary["mask_files"] = files
        summary["overlay_dir"] = "overlays"
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def modality_warnings(bundle: Bundle, inp: PredictInput) -> list[str]:
    """A warning when a DICOM input's Modality differs from the one the model was trained on."""
    expected = bundle.config.get("modality")
    found = inp.volume.metadata.get("Modality") if inp.volume is not None else None
    if expected and found and str(found).upper() != str(expected).upper():
        return [f"{inp.path}: DICOM Modality is {found}, but {bundle.name} was trained on {expected} images; "
                "its output is unlikely to mean anything"]
    return []


def display_channel(slice_: np.ndarray) -> np.ndarray:
    """The channel a person reads: FLAIR for 3-channel kaggle_3m slices, else the image itself."""
    return slice_[..., 1] if slice_.shape[-1] == 3 else slice_


def _write_masks(inp: PredictInput, mask: np.ndarray, out: Path) -> list[str]:
    from tumorscope.io import write_mask

    if inp.family == "volume" and inp.volume is not None:
        write_mask(mask, inp.volume, out / "mask.nii.gz")
        return ["mask.nii.gz"]
    (out / "masks").mkdir()
    names = []
    for i, name in enumerate(inp.names):
        like = Image.from_array(inp.slices[i])
        write_mask(mask[i], like, out / "masks" / f"{name}_mask.png")
        names.append(f"masks/{name}_mask.png")
    return names
