"""Choosing on a classifier's validation images: the epoch-selection score, mirror TTA on or off, and a softmax
temperature (shared by classification training and ``tumorscope ensemble``)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tumorscope.evaluate.classification import calibration_bins, scalar_metrics
from tumorscope.predict.classify import predict_tensors

log = logging.getLogger(__name__)

TIE_BREAK = 1e-3  # weight of the validation log-loss in the selection score


def selection_score(y: torch.Tensor, probs: np.ndarray) -> dict[str, float]:
    """The validation score that selects epochs (and inference options): (balanced accuracy + macro AUC) / 2,
    ties (common on small, easy validation parts where both saturate) going to the lower log-loss."""
    m = scalar_metrics(y.numpy(), probs)
    nll = float(F.nll_loss(torch.log(torch.from_numpy(probs).clamp(min=1e-8)), y))
    auc = m["auc_macro"] if np.isfinite(m["auc_macro"]) else 0.5
    return {"score": (m["balanced_accuracy"] + auc) / 2 - TIE_BREAK * nll, "loss": nll, "accuracy": m["accuracy"],
            "balanced_accuracy": m["balanced_accuracy"], "auc_macro": auc}


def validation_views(model: torch.nn.Module, images: Any) -> list[np.ndarray]:
    """The model's probabilities for the images (``.x``) and for their left-right mirrors (the two TTA views)."""
    return [predict_tensors(model, images.x), predict_tensors(model, images.x.flip(-1))]


def choose_tta(views: list[np.ndarray], y: torch.Tensor) -> dict[str, Any]:
    """Mirror test-time augmentation on or off (``views`` from validation_views), whichever scores higher on the
    validation images (off on a tie)."""
    scores = {tta: selection_score(y, np.mean(views if tta else views[:1], axis=0)) for tta in (False, True)}
    chosen = scores[True]["score"] > scores[False]["score"]
    log.info("mirror TTA on validation: off %.4f, on %.4f -> %s", scores[False]["score"], scores[True]["score"],
             "on" if chosen else "off")
    return {"tta": chosen, "validation": {"off": scores[False], "on": scores[True]}}


def scaled(views: list[np.ndarray], t: float) -> np.ndarray:
    """The mean over test-time views of softmax(log(p) / t): what a model with temperature t predicts."""
    return np.mean([torch.softmax(torch.log(torch.from_numpy(p).clamp(min=1e-8)) / t, dim=1).numpy()
                    for p in views], axis=0)


def fit_temperature(views: list[np.ndarray], y: np.ndarray) -> float:
    """The temperature T (0.2-5, log grid) minimising the validation log-loss of ``scaled(views, T)``."""
    grid = np.exp(np.linspace(np.log(0.2), np.log(5.0), 161))
    return float(min(grid, key=lambda t: -np.log(np.clip(scaled(views, t)[np.arange(len(y)), y], 1e-8, 1)).mean()))


def calibrate(views: list[np.ndarray], y: torch.Tensor) -> dict[str, Any]:
    """Temperature scaling (Guo et al. 2017) on the validation images' TTA ``views`` (the ones inference uses): the
    fitted T and the validation log-loss / ECE before and after. Accuracy is unchanged (T keeps each image's
    class ranking)."""
    t = fit_temperature(views, y.numpy())
    probs, calibrated = scaled(views, 1.0), scaled(views, t)
    before, after = selection_score(y, probs), selection_score(y, calibrated)
    validation = {"loss_before": before["loss"], "loss_after": after["loss"],
                  "ece_before": calibration_bins(y.numpy(), probs)[0],
                  "ece_after": calibration_bins(y.numpy(), calibrated)[0]}
    log.info("temperature scaling on validation: T = %.3f, log-loss %.4f -> %.4f, ECE %.3f -> %.3f", t,
             validation["loss_before"], validation["loss_after"], validation["ece_before"], validation["ece_after"])
    return {"temperature": t, "validation": validation}
