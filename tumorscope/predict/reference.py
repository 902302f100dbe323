"""Making a bundle's drift reference: run the bundle, exactly as ``predict`` and the service do, over a capped,
deterministic sample of images it was trained or validated on, and summarise the per-slice features
(:mod:`tumorscope.bundle.reference`). Training calls this before it writes a bundle (with the bundle not yet
on disk: ``Bundle(path, config, model)``); ``scripts/zoo_reference.py`` for the shipped models."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tumorscope.bundle.bundle import Bundle
from tumorscope.bundle.reference import (
    build_reference,
    features_for_classification,
    features_for_segmentation,
)
from tumorscope.data.volumes import SliceStack
from tumorscope.predict.classify import image_array, image_tensor, predict_tensors
from tumorscope.predict.inputs import PredictInput
from tumorscope.predict.segmentation import segment
from tumorscope.predict.volumetric import as_volume

MAX_SLICES = 500  # slices (or images) per reference: enough for PSI's 10 bins and KS, seconds to compute
SEED = 0


def pick_groups(sizes: Sequence[int], max_items: int, seed: int = SEED) -> list[int]:
    """Indices (sorted) of whole groups, e.g. volumes of ``sizes[i]`` slices, taken in a seeded random order
    until they hold ``max_items``: a volume is predicted whole, as normalisation is per volume."""
    picked, total = [], 0
    for i in np.random.default_rng(seed).permutation(len(sizes)):
        if total >= max_items:
            break
        picked.append(int(i))
        total += int(sizes[i])
    return sorted(picked)


def _merge(parts: list[dict[str, np.ndarray]], max_items: int) -> dict[str, np.ndarray]:
    """Concatenate per-slice features; more than ``max_items`` rows are thinned to evenly spaced ones."""
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(next(iter(merged.values())))
    if n > max_items:
        keep = np.unique(np.linspace(0, n - 1, max_items).round().astype(int))
        merged = {k: v[keep] for k, v in merged.items()}
    return merged


def segmentation_reference(bundle: Bundle, stacks: Sequence[SliceStack], source: str,
                           max_slices: int = MAX_SLICES) -> dict[str, Any]:
    """The reference of a segmentation bundle over whole volumes picked from ``stacks`` (raw slices as read by
    load_stacks), at most ``max_slices`` slices; ``source`` names the images (counts are appended)."""
    if not stacks:
        raise ValueError("no volumes to make a drift reference from")
    picked = [stacks[i] for i in pick_groups([s.images.shape[-4] for s in stacks], max_slices)]
    parts = []
    for stack in picked:
        v = as_volume(stack)
        path = v.samples[0].image if v.samples else Path(v.id)
        prob, mask = segment(bundle, PredictInput(path, v.images, "slices", []))
        parts.append(features_for_segmentation(v.images, prob, mask))
    feats = _merge(parts, max_slices)
    n = len(feats["tumor_fraction"])
    return build_reference(feats, f"{source}: {n} slices of {len(picked)} of {len(stacks)} volumes", len(picked))


def classification_reference(bundle: Bundle, paths: Sequence[Path], source: str, max_images: int = MAX_SLICES,
                             batch_size: int = 32) -> dict[str, Any]:
    """The reference of a classifier over at most ``max_images`` of ``paths`` (a seeded random sample), read and
    run as ``predict_files`` does (the bundle's own TTA setting)."""
    if not paths:
        raise ValueError("no images to make a drift reference from")
    rng = np.random.default_rng(SEED)
    chosen = [paths[i] for i in sorted(rng.choice(len(paths), min(len(paths), max_images), replace=False))]
    pre, model, parts = bundle.preprocessor, bundle.model, []
    for i in range(0, len(chosen), batch_size):
        arrays = [image_array(p) for p in chosen[i : i + batch_size]]
        x = torch.stack([image_tensor(pre, a, p) for a, p in zip(arrays, chosen[i : i + batch_size])])
        probs = predict_tensors(model, x, tta=bundle.tta)
        parts.append(features_for_classification(arrays, probs, bundle.classes))
    return build_reference(_merge(parts, max_images), f"{source}: {len(chosen)} of {len(paths)} images", len(chosen))


def split_reference(bundle: Bundle, val: Sequence[Any], train: Sequence[Any], data: str | Path) -> dict[str, Any]:
    """The reference of a bundle made by a training run: over its validation part (the outputs on images the
    weights were never fitted to, as live images will be), else over its training part; never its test part.
    ``val`` / ``train``: SliceStacks for segmentation, Samples for classification; ``data`` names the dataset."""
    part, items = ("validation", val) if len(val) else ("training (no validation part)", train)
    if bundle.task == "segmentation":
        return segmentation_reference(bundle, items, f"{part} volumes of {data}")
    return classification_reference(bundle, [s.image for s in items], f"{part} images of {data}")
