"""Checking an exported variant against the float32 PyTorch network on real images, and the images for it.

Segmentation: per-patient volumetric Dice of the post-processed masks against the ground truth, PyTorch vs the
variant; a variant passes when no patient's Dice moves by more than 0.005 and the mean absolute change is at
most 0.002. Classification: the predicted class agrees on at least 99.5% of the images. Both run the bundle's
own TTA and post-processing, as predict does. The images are the bundle's validation part when its split can
be rebuilt (:mod:`tumorscope.bundle.training_split`); int8 calibration uses other images (its training part).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tumorscope.bundle import Bundle
from tumorscope.errors import TumorscopeError

MAX_PATIENT_DICE_CHANGE = 0.005
MAX_MEAN_DICE_CHANGE = 0.002
MIN_AGREEMENT = 0.995


@dataclass
class CheckData:
    """The verification images (segmentation: volumes with masks) and what they are, plus calibration inputs."""

    description: str
    stacks: list[Any] = field(default_factory=list)  # segmentation: SliceStack per patient
    images: torch.Tensor | None = None  # classification: (N, C, S, S) network inputs
    calibration_source: str = ""
    calibration_samples: list[Any] = field(default_factory=list)


def choose_data(bundle: Bundle, data: Path, max_items: int) -> CheckData:
    """The bundle's validation part of ``data`` (else its training part; a bundle with no training record:
    all of ``data``), at most ``max_items`` patients / images, spread evenly; calibration from the rest."""
    from tumorscope.bundle.training_split import rebuild_split
    from tumorscope.data.dataset import load_dataset
    from tumorscope.data.splits import group_key

    label = str(data)
    try:
        _, split, how = rebuild_split(bundle.config, data)
        name = "val" if split["val"] else "train"
        check, rest = split[name], [s for p, part in split.items() if p != name for s in part]
        part = "validation" if name == "val" else "training (the bundle has no validation part)"
        source, calib_source = f"{part} {{n}} of {label}, split rebuilt as {how}", f"training images of {label}"
    except (KeyError, TypeError):  # no training record (a bundle made elsewhere): all of the data
        check = rest = load_dataset(data).samples
        source, calib_source = f"{{n}} of {label}", f"images of {label} (also used for verification)"
    if bundle.task == "segmentation":
        groups: dict[str, list[Any]] = {}
        for s in check:
            groups.setdefault(group_key(s), []).append(s)
        keys = _spread(sorted(groups), max_items)
        chosen = [s for k in keys for s in groups[k]]
        return CheckData(source.format(n=f"{len(keys)} patients ({', '.join(keys)})"), stacks=_stacks(chosen),
                         calibration_source=calib_source, calibration_samples=rest or check)
    chosen = _spread(sorted(check, key=lambda s: str(s.image)), max_items)
    return CheckData(source.format(n=f"{len(chosen)} images"), images=_image_tensors(bundle, chosen),
                     calibration_source=calib_source, calibration_samples=rest or check)


def calibration_batch(bundle: Bundle, checks: CheckData, n: int) -> torch.Tensor:
    """``n`` network inputs from the calibration images, spread evenly (segmentation: over all their slices)."""
    samples = _spread(sorted(checks.calibration_samples, key=lambda s: str(s.image)), n)
    if bundle.task != "segmentation":
        return _image_tensors(bundle, samples)
    from tumorscope.data.volumes import load_stacks

    pre = bundle.preprocessor
    stacks = load_stacks(samples, with_masks=False, desc="reading calibration slices")
    return torch.cat([pre.tensor(s.images, s.id) for s in stacks])[:n]


def compare(bundle: Bundle, checks: CheckData, reference: Any, variant: Any) -> dict[str, Any]:
    """The variant's results next to the reference's (:func:`run`) with the verdict: ``passed`` and numbers."""
    ours, seconds = run(bundle, checks, variant)
    if bundle.task == "segmentation":
        ref_dice = np.array([r.dice for r in reference[0]])
        new_dice = np.array([r.dice for r in ours])
        change = np.abs(new_dice - ref_dice)
        passed = bool(change.max() <= MAX_PATIENT_DICE_CHANGE and change.mean() <= MAX_MEAN_DICE_CHANGE)
        out = {"per_patient": {r.id: {"dice_pytorch": round(float(a), 5), "dice_variant": round(float(b), 5)}
                               for r, a, b in zip(ours, ref_dice, new_dice)},
               "max_dice_change": round(float(change.max()), 5), "mean_dice_change": round(float(change.mean()), 5),
               "mean_dice_pytorch": round(float(ref_dice.mean()), 5),
               "mean_dice_variant": round(float(new_dice.mean()), 5),
               "limits": {"max_dice_change": MAX_PATIENT_DICE_CHANGE, "mean_dice_change": MAX_MEAN_DICE_CHANGE}}
        out["summary"] = (f"Dice change max {out['max_dice_change']:.4f} (limit {MAX_PATIENT_DICE_CHANGE}), mean "
                          f"{out['mean_dice_change']:.4f} (limit {MAX_MEAN_DICE_CHANGE}); mean Dice "
                          f"{out['mean_dice_pytorch']:.4f} -> {out['mean_dice_variant']:.4f}")
    else:
        agree = float((ours.argmax(1) == reference[0].argmax(1)).mean())
        passed = agree >= MIN_AGREEMENT
        out = {"agreement": round(agree, 5), "disagreements": int((ours.argmax(1) != reference[0].argmax(1)).sum()),
               "max_probability_change": round(float(np.abs(ours - reference[0]).max()), 5),
               "limits": {"agreement": MIN_AGREEMENT}}
        out["summary"] = (f"class agreement {agree:.2%} ({out['disagreements']} of {len(ours)} differ; limit "
                          f"{MIN_AGREEMENT:.1%}), largest probability change {out['max_probability_change']:.4f}")
    return out | {"passed": passed, "data": checks.description, "seconds_pytorch_fp32": round(reference[1], 2),
                  "seconds_variant": round(seconds, 2), "speedup_here": round(reference[1] / max(seconds, 1e-9), 2)}


def run(bundle: Bundle, checks: CheckData, net: Any) -> tuple[Any, float]:
    """(results, seconds) of ``net`` on the verification data, in float32, with the bundle's TTA and
    post-processing: per-patient results (segmentation) or class probabilities (classification)."""
    from tumorscope.evaluate.segmentation import evaluate_stacks
    from tumorscope.predict.classify import predict_tensors

    start = time.perf_counter()
    if bundle.task == "segmentation":
        out: Any = evaluate_stacks(net, bundle.preprocessor, bundle.postprocess, checks.stacks, bf16=False,
                                   show_progress=False)
    else:
        assert checks.images is not None
        out = predict_tensors(net, checks.images, bf16=False, tta=bundle.tta)
    return out, time.perf_counter() - start


def _spread(items: list[Any], n: int) -> list[Any]:
    """At most ``n`` of ``items``, evenly spaced (all when there are fewer)."""
    if len(items) <= n:
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def _stacks(samples: list[Any]) -> list[Any]:
    from tumorscope.data.volumes import load_stacks

    stacks = load_stacks(samples, desc="reading verification slices")
    if not stacks or any(s.masks is None for s in stacks):
        raise TumorscopeError("verifying a segmentation variant needs images with ground-truth masks")
    return stacks


def _image_tensors(bundle: Bundle, samples: list[Any]) -> torch.Tensor:
    from tumorscope.predict.classify import image_array, image_tensor

    if not samples:
        raise TumorscopeError("no images to verify the variant on")
    return torch.stack([image_tensor(bundle.preprocessor, image_array(s.image), s.image) for s in samples])
