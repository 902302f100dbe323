"""Segmentation inference: slices of a volume -> probability map at the input's own resolution."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tumorscope.models.precision import autocast
from tumorscope.preprocess.pipeline import Preprocessor


@torch.no_grad()
def predict_probabilities(
    model: torch.nn.Module,
    pre: Preprocessor,
    stack: np.ndarray,
    tta: bool = False,
    batch_size: int = 32,
    bf16: bool = True,
    path: object = None,
) -> np.ndarray:
    """(N, Y, X, C) raw slices of one volume -> (N, Y, X) tumor probabilities (float32).

    Logits are resized back to (Y, X) before the sigmoid, so masks line up with the input pixels.
    """
    model.eval()
    x = pre.tensor(stack, path)
    out_size = stack.shape[1:3]
    probs = []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size]
        logits = _forward(model, xb, bf16)
        if tta:
            logits = (logits + _forward(model, xb.flip(-1), bf16).flip(-1)) / 2
        logits = F.interpolate(logits, size=out_size, mode="bilinear", align_corners=False)
        probs.append(torch.sigmoid(logits[:, 0]).numpy())
    return np.concatenate(probs).astype(np.float32)


def _forward(model: torch.nn.Module, x: torch.Tensor, bf16: bool) -> torch.Tensor:
    with autocast(bf16):
        return model(x).float()
