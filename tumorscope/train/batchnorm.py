"""Precise BatchNorm statistics: recompute a trained network's running means and variances on clean images.

During training BatchNorm keeps an exponential moving average of the statistics of *augmented* (and, with
mixup, blended) batches, taken while the weights still move; inference sees un-augmented images through the
final weights. Recomputing the statistics once, with the final weights, over the un-augmented training images
(Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm", section 3) removes both mismatches. The weights are
unchanged; torch's ``update_bn`` (the SWA helper) does the averaging.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import update_bn

from tumorscope.models.precision import autocast, channels_last


def recompute_batchnorm(model: torch.nn.Module, x: torch.Tensor, batch_size: int, bf16: bool = True) -> int:
    """Replace ``model``'s BatchNorm running statistics by their average over ``x`` (N, C, H, W) in batches of
    ``batch_size`` (the training batch size: the statistics BatchNorm normalised with while training), computed in
    the precision inference uses. Returns the number of BatchNorm layers updated; the model is left in eval mode."""
    layers = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if layers:
        batches = (channels_last(x[i : i + batch_size]) for i in range(0, len(x), batch_size) if len(x) - i > 1)
        with torch.no_grad(), autocast(bf16):
            update_bn(batches, model)
    model.eval()
    return layers
