"""BraTS scores of a bundle run on a BraTS dataset (``evaluate --model M --data BRATS``).

Each case's modalities (``--modalities``, default the bundle's own ``modalities`` or, for a 4-channel network,
flair/t1/t1ce/t2) are stacked as the network's input channels; a 3-D bundle runs by sliding window, a 2-D one
slice by slice along the volume's Z axis (axial for BraTS). Output channel k is region ``--region``[k] (default
the bundle's ``regions`` or, for three outputs, WT/TC/ET), post-processed by the bundle's own settings and scored
against that region of the case's segmentation exactly as :mod:`.brats_eval` scores label maps. Only the
regions the model outputs are scored: the 2-D ``lgg-flair-seg`` (one output) is scored against WT alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tumorscope.bundle.postprocess import PostProcess
from tumorscope.data.brats import MODALITIES, REGIONS
from tumorscope.data.brats_cases import BRATS_LAYOUTS, Case, read_labels
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.brats_eval import region_columns
from tumorscope.evaluate.brats_metrics import LesionRules, region_scores
from tumorscope.io import read_image
from tumorscope.predict.segmentation import output_probabilities
from tumorscope.progress import progress


def input_modalities(config: dict[str, Any], requested: list[str] | None) -> tuple[str, ...]:
    """The BraTS modalities fed as the network's channels, in order."""
    chosen = requested or config.get("modalities")
    if not chosen and config["model"]["in_channels"] == len(MODALITIES):
        chosen = MODALITIES
    if not chosen:
        raise TumorscopeError(f"the model takes {config['model']['in_channels']} channel(s) and names no BraTS "
                              f"modalities: pass --modalities (from {', '.join(MODALITIES)})")
    unknown = [m for m in chosen if m not in MODALITIES]
    if unknown:
        raise TumorscopeError(f"unknown modalities {unknown} (choose from {', '.join(MODALITIES)})")
    return tuple(chosen)


def output_regions(config: dict[str, Any], requested: list[str] | None) -> tuple[str, ...]:
    """The BraTS region each output channel of the network is scored against."""
    n_out = int(config["model"]["out_channels"])
    chosen = requested or config.get("regions") or (REGIONS if n_out == len(REGIONS) else None)
    if not chosen:
        raise TumorscopeError(f"the model has {n_out} output(s) and names no BraTS regions: pass --region "
                              f"(one of {', '.join(REGIONS)} per output)")
    if len(chosen) > n_out or any(r not in REGIONS for r in chosen) or len(set(chosen)) < len(chosen):
        raise TumorscopeError(f"--region {' '.join(chosen)}: give at most {n_out} distinct region(s) of "
                              f"{', '.join(REGIONS)}, one per output channel")
    return tuple(chosen)


def case_volume(case: Case, modalities: tuple[str, ...]) -> np.ndarray:
    """(Z, Y, X, C) raw voxels of ``modalities`` of one case; missing ones are an error naming what is there."""
    missing = [m for m in modalities if m not in case.modalities]
    if missing:
        raise TumorscopeError(f"case {case.id} lacks {', '.join(missing)} (present: "
                              f"{', '.join(case.modalities) or 'none'})", case.seg)
    parts = []
    for m in modalities:
        path, index = case.modalities[m]
        array = read_image(path).array
        parts.append(array[..., index if index is not None else 0])
        if parts[-1].shape != parts[0].shape:
            raise TumorscopeError(f"{m} has shape {parts[-1].shape[::-1]}, {modalities[0]} {parts[0].shape[::-1]}",
                                  path)
    return np.stack(parts, axis=-1)


def score_bundle(bundle: Any, samples: list[Sample], layout: str, modalities: tuple[str, ...],
                 regions: tuple[str, ...], post: PostProcess | None = None,
                 rules: LesionRules | None = None) -> list[dict[str, Any]]:
    """One row per case with a segmentation: ``case`` and ``<region>_<score>`` for the model's regions."""
    if layout not in BRATS_LAYOUTS:
        raise TumorscopeError(f"BraTS scoring needs a BraTS dataset (layout brats or msd_brats), found {layout}")
    post = post or bundle.postprocess
    cases = [Case.of(s) for s in samples if s.masks]
    if not cases:
        raise TumorscopeError("no case with a segmentation to compare with")
    rows = []
    for case in progress(cases, "predicting and scoring cases", total=len(cases)):
        assert case.seg is not None
        truth, spacing = read_labels(case.seg)
        if "brats" in bundle.config:  # a BraTS region bundle: its own plan and region post-processing, as predict
            rows.append({"case": case.id} | region_columns(_region_bundle_scores(bundle, case, truth, spacing, rules)))
            continue
        volume = case_volume(case, modalities)
        if volume.shape[:3] != truth.shape:
            raise TumorscopeError(f"images {volume.shape[2::-1]} and segmentation {truth.shape[::-1]} differ "
                                  "(x, y, z)", case.seg)
        probs = output_probabilities(bundle, volume, post.tta, case.modalities[modalities[0]][0])
        scores = {region: region_scores(post(probs[k]), case.scheme.region(truth, region), spacing, rules)
                  for k, region in enumerate(regions)}
        rows.append({"case": case.id} | region_columns(scores))
    return rows


def _region_bundle_scores(bundle: Any, case: Case, truth: np.ndarray, spacing: Any,
                          rules: LesionRules | None) -> dict[str, Any]:
    """WT/TC/ET scores of a BraTS region bundle (``config["brats"]``) on one case, run exactly as
    ``tumorscope predict`` runs it (tumorscope.predict.brats_case)."""
    from tumorscope.data.brats_volumes import read_modalities
    from tumorscope.predict.brats_case import case_probabilities
    from tumorscope.predict.brats_regions import RegionPost

    brats = bundle.config["brats"]
    images, image_spacing, _ = read_modalities(case)
    probs = case_probabilities(bundle, images, image_spacing, case.id, bool(brats.get("tta", False)))
    masks = RegionPost.from_dict(brats["postprocessing"]).masks(probs)
    return {region: region_scores(masks[k], case.scheme.region(truth, region), spacing, rules)
            for k, region in enumerate(REGIONS)}
