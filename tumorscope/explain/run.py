"""``tumorscope explain`` on one input (and ``predict --explain``): heatmap overlays + raw maps, atomically.

Writes into OUT (all or nothing): ``heatmaps/<slice>_<method>.png`` (the map blended on the image),
the raw maps at the input's own resolution (``maps/<slice>_<method>.npy`` for 2-D inputs, one
``<method>.nii.gz`` with the input's geometry for volumes; slices not explained are 0) and
``explain.json`` (method, layer, what score each slice explains, files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import atomic_path
from tumorscope.errors import TumorscopeError
from tumorscope.explain.evaluate import explainer_for
from tumorscope.explain.methods import METHODS, Explainer, normalized
from tumorscope.predict.inputs import PredictInput, read_input
from tumorscope.predict.overlay import display_channel, heat_overlay, save_rgb

MAX_SLICES = 48


def read_inputs(path: Path, task: str) -> list[PredictInput]:
    """The input as predict reads it; for classification every image of a folder (recursively, as
    ``predict`` lists them), each on its own since sizes may differ."""
    if task != "segmentation" and path.is_dir():
        from tumorscope.predict.classify import list_images

        return [read_input(p) for p in list_images(path)]
    return [read_input(path)]


def slices_to_explain(explainer: Explainer, targets: Any, task: str, limit: int = MAX_SLICES) -> list[int]:
    """Segmentation: the slices with predicted tumor (else the most suspicious one), evenly thinned to
    ``limit``; classification: every image."""
    n = len(targets.described)
    if task != "segmentation":
        return list(range(min(n, limit)))
    found = [i for i, d in enumerate(targets.described) if d["target"] == "predicted tumor region"]
    if not found:
        return [int(np.argmax([d["max_probability"] for d in targets.described]))]
    keep = np.unique(np.round(np.linspace(0, len(found) - 1, min(limit, len(found)))).astype(int))
    return [found[i] for i in keep]


def explain_input(
    bundle: Any,
    input_path: str | Path,
    out_dir: str | Path,
    method: str = "gradcam",
    layer: str | None = None,
    max_slices: int = MAX_SLICES,
) -> dict[str, Any]:
    """Explain a bundle's prediction on one input (image, slice folder, patient folder, DICOM, NIfTI)."""
    if method not in METHODS:
        raise TumorscopeError(f"unknown explanation method {method!r}; choose from {', '.join(METHODS)}")
    out_dir = Path(out_dir)
    inputs = read_inputs(Path(input_path), bundle.task)
    explainer = explainer_for(bundle, layer)
    summary: dict[str, Any] = {"input": str(input_path), "model": bundle.name, "method": method, "slices": []}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        (tmp / "heatmaps").mkdir()
        for inp in inputs:
            summary["slices"] += _explain_one(explainer, bundle, inp, tmp, method, max_slices)
        summary["layer"] = explainer.layer_names if method in ("gradcam", "gradcampp") else None
        (tmp / "explain.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def explain_slices(explainer: Explainer, bundle: Any, inp: PredictInput, method: str,
                   max_slices: int = MAX_SLICES) -> tuple[list[int], np.ndarray, Any]:
    """Heatmaps of the slices :func:`slices_to_explain` picks: (their indices, raw maps (k, Y, X) at the
    input's own resolution, the targets of every slice)."""
    x = bundle.preprocessor.tensor(inp.slices, inp.path)
    targets = explainer.targets(x)
    idx = slices_to_explain(explainer, targets, bundle.task, max_slices)
    raw = bundle.preprocessor.to_input_grid(explainer.attribute(x[idx], method, targets[idx]), inp.slices, inp.path)
    return idx, raw, targets


def _explain_one(
    explainer: Explainer, bundle: Any, inp: PredictInput, out: Path, method: str, max_slices: int
) -> list[dict[str, Any]]:
    idx, raw, targets = explain_slices(explainer, bundle, inp, method, max_slices)
    rows = []
    for j, i in enumerate(idx):
        name = f"{inp.names[i]}_{method}"
        if (out / "heatmaps" / f"{name}.png").exists():  # same file name in two folders of a classification input
            name = f"{inp.path.parent.name}_{name}"
        save_rgb(heat_overlay(display_channel(inp.slices[i]), normalized(raw[j])), out / "heatmaps" / f"{name}.png")
        rows.append({"slice": inp.names[i], "heatmap": f"heatmaps/{name}.png", **targets.described[i]})
        if inp.family != "volume":
            (out / "maps").mkdir(exist_ok=True)
            np.save(out / "maps" / f"{name}.npy", raw[j])
            rows[-1]["map"] = f"maps/{name}.npy"
    if inp.family == "volume" and inp.volume is not None:
        from tumorscope.io import write_image

        vol = np.zeros(inp.slices.shape[:3], dtype=np.float32)
        vol[idx] = raw
        write_image(inp.volume.with_array(vol[..., None]), out / f"{method}.nii.gz")
        for r in rows:
            r["map"] = f"{method}.nii.gz"
    return rows
