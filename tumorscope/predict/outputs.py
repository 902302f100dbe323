"""What ``tumorscope predict`` writes: for segmentation the mask in the input's family, overlays and
summary.json; for classification predictions.csv and summary.json. Each output folder is written
atomically (all files or none). Running the models is :mod:`~tumorscope.predict.segmentation` and
:mod:`~tumorscope.predict.classify`."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import atomic_path
from tumorscope.bundle import Bundle
from tumorscope.bundle.postprocess import PostProcess, count_components
from tumorscope.errors import printable
from tumorscope.io.image import Image
from tumorscope.predict.inputs import PredictInput
from tumorscope.predict.lesions import lesions
from tumorscope.predict.overlap import dice
from tumorscope.predict.overlay import display_channel, overlay, save_rgb
from tumorscope.predict.segmentation import segment

MAX_OVERLAYS = 48
# threads that draw and encode the mask and overlay PNGs (Pillow's zlib encoder releases the GIL)
WRITERS = 2
log = logging.getLogger(__name__)


def write_segmentation(
    bundle: Bundle, inp: PredictInput, out_dir: Path, post: PostProcess | None = None, synthetic: bool = False
) -> dict[str, Any]:
    """Predict and write everything into ``out_dir`` atomically (all files or none)."""
    post = post or bundle.postprocess
    prob, mask = segment(bundle, inp, post)
    return write_segmentation_result(bundle, inp, prob, mask, out_dir, post, synthetic)


def write_segmentation_result(
    bundle: Bundle, inp: PredictInput, prob: np.ndarray, mask: np.ndarray, out_dir: Path, post: PostProcess,
    synthetic: bool = False, extra: Callable[[Path, dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write a computed segmentation (probabilities and post-processed mask, (N, Y, X) each) into ``out_dir``
    atomically: the mask files, overlays and summary.json. ``extra`` (the service's viewer volumes, the CLI's DICOM
    outputs) is called with the folder being written and the summary so far, adds its files in the same atomic
    write and returns fields for the summary. Returns the summary."""
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
        "lesions": lesions(mask, prob, vox),
        "n_slices": int(mask.shape[0]),
        "slices_with_tumor": [inp.names[i] for i in tumor_slices],
        "postprocessing": post.to_dict(),
    }
    warnings = modality_warnings(bundle, inp)
    summary["warnings"] = warnings
    for w in warnings:
        log.warning("warning: %s", w)
    if inp.truth is not None:
        summary["dice_vs_ground_truth"] = dice(mask, inp.truth)
    show = tumor_slices or [int(np.argmax(prob.reshape(len(prob), -1).max(1)))]
    step = max(1, len(show) // MAX_OVERLAYS + (len(show) % MAX_OVERLAYS > 0))
    with atomic_path(out_dir) as tmp, ThreadPoolExecutor(WRITERS) as pool:
        tmp.mkdir()
        (tmp / "overlays").mkdir()
        written = [pool.submit(_write_overlay, inp, mask, i, tmp / "overlays") for i in show[::step]]
        files = _write_masks(inp, mask, tmp, pool)
        for job in written:
            job.result()
        summary["mask_files"] = files
        summary["overlay_dir"] = "overlays"
        if extra is not None:
            summary.update(extra(tmp, summary))
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


def _write_overlay(inp: PredictInput, mask: np.ndarray, i: int, folder: Path) -> None:
    truth = inp.truth[i] if inp.truth is not None else None
    save_rgb(overlay(display_channel(inp.slices[i]), mask[i], truth), folder / f"{inp.names[i]}.png")


def _write_masks(inp: PredictInput, mask: np.ndarray, out: Path, pool: ThreadPoolExecutor) -> list[str]:
    """The mask in the input's family: one NIfTI for a volume, else one PNG per slice (written by ``pool``)."""
    from tumorscope.io import write_mask

    if inp.family == "volume" and inp.volume is not None:
        write_mask(mask, inp.volume, out / "mask.nii.gz")
        return ["mask.nii.gz"]
    (out / "masks").mkdir()
    names = [f"masks/{name}_mask.png" for name in inp.names]
    jobs = [pool.submit(write_mask, mask[i], Image.from_array(inp.slices[i]), out / name) for i, name in enumerate(names)]
    for job in jobs:
        job.result()
    return names


def write_classification(bundle: Bundle, input_path: str | Path, out_dir: str | Path,
                         tta: bool | None = None, relative_to: Path | None = None, quiet: bool = False
                         ) -> dict[str, Any]:
    """Classify one image or a folder of images; writes ``predictions.csv`` and ``summary.json`` into
    ``out_dir`` atomically. In a folder, unreadable files are listed with their problem and skipped.
    ``relative_to`` writes file names relative to that folder (a service shows no server path);
    ``quiet`` prints nothing."""
    input_path, out_dir = Path(input_path), Path(out_dir)

    def shown(path: Path) -> str:
        if relative_to is not None and Path(path).is_relative_to(relative_to):
            return str(Path(path).relative_to(relative_to))
        return str(path)

    from tumorscope.predict.classify import list_images, predict_files  # torch: classification only

    files = list_images(input_path)
    single = input_path.is_file()
    res = predict_files(bundle, files, strict=single, tta=tta)
    classes = bundle.classes
    rows = []
    for path, p in zip(res.paths, res.probs):
        k = int(np.argmax(p))
        rows.append({"file": shown(path), "predicted": classes[k], "probability": round(float(p[k]), 6),
                     **{f"p_{c}": round(float(v), 6) for c, v in zip(classes, p)}, "error": ""})
    rows += [{"file": shown(path), "predicted": "", "probability": "", **{f"p_{c}": "" for c in classes},
              "error": problem} for path, problem in res.errors.items()]
    summary: dict[str, Any] = {
        "input": shown(input_path),
        "model": bundle.name,
        "classes": classes,
        "n_images": len(res.paths),
        "n_unreadable": len(res.errors),
        "tta": res.tta,
        "counts": dict(Counter(r["predicted"] for r in rows if r["predicted"])),
    }
    if single:
        summary.update(predicted=rows[0]["predicted"], probabilities={c: rows[0][f"p_{c}"] for c in classes})
    write_table_and_summary(out_dir, rows, summary)
    if quiet:
        return summary
    if single:
        probs = ", ".join(f"{c} {summary['probabilities'][c]:.3f}" for c in classes)
        print(f"{files[0].name}: {summary['predicted']} ({probs})")
    else:
        counts = ", ".join(f"{c} {summary['counts'].get(c, 0)}" for c in classes)
        print(f"{len(res.paths)} images classified ({counts})"
              + (f"; {len(res.errors)} unreadable, listed in predictions.csv" if res.errors else ""))
    return summary


def write_table_and_summary(out_dir: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    """``out_dir`` (atomically) with ``predictions.csv`` (one row per image/slice) and ``summary.json``."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        (tmp / "predictions.csv").write_text(printable(buf.getvalue()), encoding="utf-8")  # names may hold non-UTF-8 bytes
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
