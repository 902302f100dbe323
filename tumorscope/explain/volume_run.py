"""``tumorscope explain`` on a 3-D bundle: per output region and per input modality attribution maps, a
per-modality importance table, faithfulness scores and figures of the central tumor slice, for one case.

The input is a BraTS case folder (its modalities stacked as the bundle's channels: the bundle's ``modalities``,
else flair/t1/t1ce/t2 for a 4-channel network) or any volume ``predict`` reads (a NIfTI, 4-D for several
channels). The whole volume is predicted by sliding window; the explanations are computed on one patch of the
bundle's sliding-window size centred on the predicted tumor (:mod:`.volume_methods`).

Writes into OUT (all or nothing):

* ``explain.json``: per region the score explained, the modality importance (channel ablation drop and each
  method's |attribution| share), faithfulness per method (pointing game and energy in mask against the case's
  ground-truth region when it has one; deletion/insertion AUCs, probability scale) beside a random-order baseline;
* ``heatmaps/<region>_<method>.png``: the central tumor slice of the region, one panel per modality (the map's
  positive part, one colour scale across the panels) and the channel sum;
* ``maps/<region>_<method>.nii.gz``: the channel-summed map on the input's grid (0 outside the patch);
  ``maps/<region>.npz``: every method's per-channel maps of the patch and the patch's box.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import atomic_path
from tumorscope.data.brats import LabelScheme
from tumorscope.errors import TumorscopeError
from tumorscope.explain.faithfulness import curve_auc, energy_in_mask, perturbation_curves, pointing_hit
from tumorscope.explain.methods import normalized
from tumorscope.explain.volume_methods import (
    VOLUME_METHODS,
    VolumeExplainer,
    channel_shares,
    patch_box,
    region_select,
)
from tumorscope.io.image import Image

TOLERANCE_VOXELS = 2.0


@dataclass
class VolumeCase:
    """One volume to explain: raw voxels, channel names, geometry and (for BraTS) the ground-truth labels."""

    path: Path
    volume: np.ndarray  # (Z, Y, X, C)
    channels: list[str]
    image: Image | None
    truth: np.ndarray | None = None  # (Z, Y, X) labels
    scheme: LabelScheme | None = None

    def truth_region(self, name: str) -> np.ndarray | None:
        if self.truth is None:
            return None
        if self.scheme is not None and name in self.scheme.regions:
            return self.scheme.region(self.truth, name)
        return self.truth > 0  # one-output tumor models: the whole tumor


def read_case(path: Path, config: dict[str, Any]) -> VolumeCase:
    """A BraTS case folder (exactly one case) or a volume file, read for the bundle described by ``config``."""
    from tumorscope.data.brats_cases import BRATS_LAYOUTS, Case, read_labels
    from tumorscope.data.dataset import detect_layout, load_dataset
    from tumorscope.evaluate.brats_model import case_volume, input_modalities
    from tumorscope.io import read_image

    if path.is_dir() and detect_layout(path) in BRATS_LAYOUTS:
        samples = load_dataset(path).samples
        if len(samples) != 1:
            raise TumorscopeError(f"explain takes one case; this folder holds {len(samples)}", path)
        case = Case.of(samples[0])
        modalities = input_modalities(config, None)
        first = case.modalities[modalities[0]][0] if modalities[0] in case.modalities else path
        truth = read_labels(case.seg)[0] if case.seg is not None else None
        return VolumeCase(first, case_volume(case, modalities), list(modalities), read_image(first), truth, case.scheme)
    from tumorscope.predict.inputs import read_input

    inp = read_input(path)
    n = inp.slices.shape[-1]
    names = list(config.get("modalities") or [f"channel{c}" for c in range(n)])
    return VolumeCase(path, inp.slices, names[:n], inp.volume, inp.truth)


def _brats_case(bundle: Any, folder: Path) -> tuple[VolumeCase, list[np.ndarray], Any, Any]:
    """A BraTS region bundle's case on the network's own grid (its plan: brain crop, z-score, resampling), where
    it is explained: the case, the WT/TC/ET masks (threshold, nested), the normalised (C, z, y, x) tensor, the
    window. No NIfTI maps are written (the grid is the plan's, not the case's)."""
    import torch

    from tumorscope.data.brats import MODALITIES, decode_regions
    from tumorscope.data.brats_cases import read_labels
    from tumorscope.data.brats_volumes import prepare_arrays, read_modalities
    from tumorscope.predict.brats_case import read_case_folder
    from tumorscope.predict.brats_plan import BratsPlan
    from tumorscope.predict.brats_regions import RegionPost, plan_probabilities
    from tumorscope.predict.volumetric import SlidingWindow

    case = read_case_folder(folder)
    images, spacing, _ = read_modalities(case)
    labels = read_labels(case.seg)[0] if case.seg is not None else None
    plan = BratsPlan.from_dict(bundle.config["brats"]["plan"])
    prepared = prepare_arrays(images, spacing, plan.spacing, labels=labels, scheme=case.scheme, case_id=case.id)
    window = SlidingWindow.from_dict(bundle.config["volumetric"])
    probs = plan_probabilities(bundle.model, prepared, window).numpy()
    threshold = RegionPost.from_dict(bundle.config["brats"]["postprocessing"]).threshold
    masks = list(np.logical_and.accumulate(probs >= threshold, axis=0))  # TC inside WT, ET inside TC
    truth = None if prepared.regions is None else decode_regions(prepared.regions.astype(bool), case.scheme)
    first = case.modalities[MODALITIES[0]][0]
    volume = np.moveaxis(prepared.images, 0, -1)
    return (VolumeCase(first, volume, list(MODALITIES), None, truth, case.scheme), masks,
            torch.from_numpy(prepared.images), window)


def output_names(config: dict[str, Any]) -> list[str]:
    """Names of the network's outputs: its BraTS regions when known, ``tumor`` for one output, else ``output<k>``."""
    from tumorscope.evaluate.brats_model import output_regions

    k = int(config["model"]["out_channels"])
    try:
        return list(output_regions(config, None))
    except TumorscopeError:
        return ["tumor"] if k == 1 else [f"output{i}" for i in range(k)]


def explain_volume(bundle: Any, input_path: str | Path, out_dir: str | Path, methods: tuple[str, ...] = VOLUME_METHODS,
                   steps: int = 10, tolerance: float = TOLERANCE_VOXELS, seed: int = 0) -> dict[str, Any]:
    """Explain every output of a 3-D bundle on one case (see the module docstring); returns explain.json's body."""
    from tumorscope.predict.volumetric import SlidingWindow, predict_volume_outputs, volume_tensor

    bad = [m for m in methods if m not in VOLUME_METHODS]
    if bad:
        raise TumorscopeError(f"3-D models are explained by {', '.join(VOLUME_METHODS)}, not {', '.join(bad)}")
    model = bundle.model
    if "brats" in bundle.config:
        case, masks, full, window = _brats_case(bundle, Path(input_path))
    else:
        case = read_case(Path(input_path), bundle.config)
        window = SlidingWindow.for_bundle(bundle.config, case.volume.shape[:3])
        probs = predict_volume_outputs(model, bundle.preprocessor, case.volume, window, path=case.path)
        masks = [bundle.postprocess(p) for p in probs]
        full = volume_tensor(bundle.preprocessor, case.volume, case.path)
    box = patch_box(np.any(masks, axis=0), window.patch_size)
    x = full[(slice(None), *box)][None]
    explainer = VolumeExplainer(model, x, window.patch_size)
    summary: dict[str, Any] = {"input": str(input_path), "model": bundle.name, "methods": list(methods),
                               "modalities": case.channels, "patch_box_zyx": [[b.start, b.stop] for b in box],
                               "tolerance_voxels": tolerance, "regions": {}}
    with atomic_path(Path(out_dir)) as tmp:
        (tmp / "heatmaps").mkdir(parents=True)
        (tmp / "maps").mkdir()
        for k, name in enumerate(output_names(bundle.config)):
            mask = masks[k][box]
            select = region_select(mask)
            truth = case.truth_region(name)
            row: dict[str, Any] = {
                "target": "predicted region in the patch" if mask.any() else "whole patch (region not predicted)",
                "predicted_voxels": int(masks[k].sum()), "probability": explainer.probability(k, select),
                "truth_voxels": None if truth is None else int(truth.sum()),
            }
            drop = explainer.channel_ablation(k, select)
            importance = {c: {"ablation_drop": float(drop[i])} for i, c in enumerate(case.channels)}
            maps, faith = {}, {}
            score = explainer.scorer(k, select)
            for method in methods:
                attr = explainer.attribute(method, k, select)
                maps[method] = attr
                for i, share in enumerate(channel_shares(attr)):
                    importance[case.channels[i]][f"{method}_share"] = float(share)
                faith[method] = _faithfulness(attr.sum(axis=0), x[0], score, truth[box] if truth is not None else None,
                                              tolerance, steps, seed)
                row.setdefault("figures", {})[method] = _figure(case, box, masks[k], attr, tmp, name, method)
                row.setdefault("maps", {})[method] = _write_map(case, box, attr.sum(axis=0), tmp, name, method)
            random_heat = np.random.default_rng(seed).random(mask.shape)
            rnd = perturbation_curves(score, x[0], random_heat, steps, seed)
            row |= {"importance": importance, "faithfulness": faith,
                    "baseline": {"deletion_auc_random_order": curve_auc(rnd["deletion"]),
                                 "insertion_auc_random_order": curve_auc(rnd["insertion"]),
                                 "energy_in_mask_uniform_map": (float(truth[box].mean()) if truth is not None
                                                                else None)}}
            arrays: dict[str, Any] = {"box_zyx": np.array(summary["patch_box_zyx"]),
                                      "channels": np.array(case.channels), **maps}
            np.savez_compressed(tmp / "maps" / f"{name}.npz", **arrays)
            summary["regions"][name] = row
        (tmp / "explain.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _faithfulness(heat: np.ndarray, x: Any, score: Any, truth: np.ndarray | None, tolerance: float, steps: int,
                  seed: int) -> dict[str, Any]:
    curves = perturbation_curves(score, x, heat, steps, seed)
    return {
        "pointing_game": None if truth is None or not truth.any() else bool(pointing_hit(heat, truth, tolerance)),
        "energy_in_mask": None if truth is None else energy_in_mask(heat, truth),
        "deletion_auc": curve_auc(curves["deletion"]), "insertion_auc": curve_auc(curves["insertion"]),
        "deletion_curve": [float(v) for v in curves["deletion"]],
        "insertion_curve": [float(v) for v in curves["insertion"]],
    }


def central_slice(region: np.ndarray, box: tuple[slice, ...]) -> int:
    """The Z index of the region's largest axial cross-section inside the box (the box's middle when empty)."""
    inside = region[box[0]].reshape(box[0].stop - box[0].start, -1).sum(axis=1)
    return box[0].start + (int(inside.argmax()) if inside.any() else len(inside) // 2)


def _figure(case: VolumeCase, box: tuple[slice, ...], region: np.ndarray, attr: np.ndarray, out: Path, name: str,
            method: str) -> str:
    """One PNG: the central slice of the region, a panel per channel plus the channel sum (joint colour scale)."""
    from tumorscope.predict.overlay import heat_overlay, save_rgb

    z = central_slice(region, box)
    maps = np.concatenate([attr, attr.sum(axis=0, keepdims=True)])[:, z - box[0].start]
    heat = normalized(maps[:-1])  # channels on one scale; the sum on its own
    panels = []
    for i in range(len(maps)):
        full = np.zeros(case.volume.shape[1:3], dtype=np.float32)
        full[box[1], box[2]] = heat[i] if i < len(heat) else normalized(maps[-1])
        image = case.volume[z, ..., min(i, case.volume.shape[-1] - 1)] if i < len(heat) else case.volume[z, ..., 0]
        panels.append(heat_overlay(image, full))
    rel = f"heatmaps/{name}_{method}.png"
    save_rgb(np.concatenate(panels, axis=1), out / rel)
    return rel


def _write_map(case: VolumeCase, box: tuple[slice, ...], heat: np.ndarray, out: Path, name: str, method: str) -> str | None:
    if case.image is None:
        return None
    from tumorscope.io import write_image

    full = np.zeros(case.volume.shape[:3], dtype=np.float32)
    full[box] = heat
    rel = f"maps/{name}_{method}.nii.gz"
    write_image(case.image.with_array(full[..., None]), out / rel)
    return rel
