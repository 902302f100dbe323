"""Choosing a segmentation model's post-processing (threshold, small-component removal, flip TTA) on validation
patients, never the test fold: shared by 2-D and 3-D training and by ``tumorscope ensemble``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from tumorscope.atomic import write_json
from tumorscope.bundle.postprocess import PostProcess
from tumorscope.data.volumes import SliceStack
from tumorscope.evaluate.overlap import dice
from tumorscope.predict.segmentation import predict_probabilities
from tumorscope.preprocess.pipeline import Preprocessor

log = logging.getLogger(__name__)


def tune_postprocess(
    model: torch.nn.Module, pre: Preprocessor, val: list[SliceStack], bf16: bool, run: Path | None = None
) -> PostProcess:
    """Choose threshold, min component size and flip TTA on the VALIDATION patients (never the test fold);
    the whole search table goes to ``run/postprocess_search.json``."""
    probs = {tta: [predict_probabilities(model, pre, s.images, tta=tta, bf16=bf16) for s in val] for tta in (False, True)}
    scores = postprocess_scores(val, probs)
    if run is not None:
        rows = [{"tta": k[0], "threshold": k[1], "min_size": k[2], "val_dice": v} for k, v in scores.items()]
        write_json(run / "postprocess_search.json", {"n_val_volumes": len(val), "candidates": rows})
    return best_postprocess(scores)


def postprocess_scores(
    val: list[SliceStack], probs: list[np.ndarray] | dict[bool, list[np.ndarray]]
) -> dict[tuple[bool, float, int], float]:
    """Mean validation Dice of every (tta, threshold, min_size) candidate; ``probs`` are the validation
    probability maps, or ``{tta: maps}`` to include flip TTA."""
    by_tta = probs if isinstance(probs, dict) else {False: probs}
    truths = [s.require_masks() for s in val]
    scores: dict[tuple[bool, float, int], float] = {}
    for tta, maps in by_tta.items():
        for threshold in (0.3, 0.4, 0.5, 0.6):
            for min_size in (0, 50, 150, 400):
                cand = PostProcess(threshold=threshold, min_size=min_size, tta=tta)
                scores[(tta, threshold, min_size)] = float(np.mean([dice(cand(p), t) for p, t in zip(maps, truths)]))
    return scores


def best_postprocess(scores: dict[tuple[bool, float, int], float]) -> PostProcess:
    """The best candidate, if it beats the plain default (no TTA, 0.5, no removal) by 0.002 Dice."""
    default = scores[(False, 0.5, 0)]
    key = max(scores, key=lambda k: scores[k])
    if scores[key] < default + 0.002:
        key = (False, 0.5, 0)
    log.info("post-processing: default validation Dice %.4f; chosen tta=%s threshold=%.1f min_size=%d: %.4f",
             default, key[0], key[1], key[2], scores[key])
    return PostProcess(threshold=key[1], min_size=key[2], tta=key[0])


def choose_postprocess(val: list[SliceStack], probs: list[np.ndarray] | dict[bool, list[np.ndarray]]) -> PostProcess:
    """The best post-processing for these validation probability maps."""
    return best_postprocess(postprocess_scores(val, probs))
