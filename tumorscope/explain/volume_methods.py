"""Attribution for 3-D networks with C input channels (e.g. BraTS modalities) and K sigmoid outputs (e.g. the
regions WT/TC/ET), on one patch of a volume.

Each output k is explained by one scalar, as the 2-D :class:`~tumorscope.explain.methods.ScoreModel` does: the
mean logit of output k inside its predicted mask within the patch (the whole patch when the mask is empty).
Methods (Captum), each giving a (C, Z, Y, X) map, one per input channel:

* ``saliency``: |gradient| of the score;
* ``ig``: integrated gradients from an all-zero (normalised background) baseline;
* ``occlusion``: drop in the score when a block (1/4 of the patch per axis) of ONE channel is set to 0.

Per-modality importance: the drop in the region's probability-scale score when a whole channel is set to 0
over the patch (Captum ``FeatureAblation``, one feature per channel), and each method's share of |attribution|
per channel.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tumorscope.explain.faithfulness import ScoreFn

VOLUME_METHODS = ("saliency", "ig", "occlusion")
OCCLUSION_BLOCKS = 4  # occlusion blocks per patch axis
IG_STEPS = 16


class RegionScore(nn.Module):
    """A 3-D network reduced to one score per input: ``select`` (N|1, Z, Y, X) weights summing to 1 applied to
    output ``output`` (logits, or sigmoid probabilities with ``probability``). Returns (N, 1). Inputs smaller
    than ``patch`` (what the network was planned for) are zero-padded at their ends and the output cropped back."""

    def __init__(self, model: nn.Module, output: int, patch: tuple[int, ...], probability: bool = False) -> None:
        super().__init__()
        self.model = model
        self.output = output
        self.patch = patch
        self.probability = probability

    def forward(self, x: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
        out = self.model(pad_to(x, self.patch)).float()[:, self.output]
        out = out[(slice(None), *[slice(0, s) for s in x.shape[2:]])]
        if self.probability:
            out = torch.sigmoid(out)
        return (out * select).flatten(1).sum(dim=1, keepdim=True)


def region_select(mask: np.ndarray) -> torch.Tensor:
    """(1, Z, Y, X) weights: the mask's voxels (the whole patch when it is empty), summing to 1."""
    m = torch.from_numpy(np.asarray(mask, dtype=np.float32))
    if m.sum() == 0:
        m = torch.ones_like(m)
    return (m / m.sum())[None]


def patch_box(focus: np.ndarray, patch: tuple[int, ...]) -> tuple[slice, ...]:
    """The (Z, Y, X) box of at most ``patch`` voxels centred on the ``focus`` mask's centroid (the volume's
    centre when it is empty), kept inside the volume."""
    shape = focus.shape
    centre = np.argwhere(focus).mean(axis=0) if focus.any() else np.array(shape) / 2
    box = []
    for c, p, s in zip(centre, patch, shape):
        start = int(np.clip(round(c) - p // 2, 0, max(s - p, 0)))
        box.append(slice(start, min(start + p, s)))
    return tuple(box)


def pad_to(x: torch.Tensor, patch: tuple[int, ...]) -> torch.Tensor:
    """Zero-pad the spatial axes of (N, C, Z, Y, X) at their ends up to ``patch``."""
    pad = [max(0, p - s) for p, s in zip(patch, x.shape[2:])]
    return F.pad(x, [v for p in reversed(pad) for v in (0, p)]) if any(pad) else x


class VolumeExplainer:
    """Attribution maps and modality importance of one patch ``x`` (1, C, Z, Y, X) of a volume (at most the
    network's ``patch``), for each output of ``model``."""

    def __init__(self, model: nn.Module, x: torch.Tensor, patch: tuple[int, ...], batch_size: int = 2) -> None:
        self.model = model.eval()
        self.x = x
        self.patch = tuple(max(p, s) for p, s in zip(patch, x.shape[2:]))
        self.batch_size = batch_size

    def score(self, output: int, probability: bool = False) -> RegionScore:
        return RegionScore(self.model, output, self.patch, probability).eval()

    def attribute(self, method: str, output: int, select: torch.Tensor) -> np.ndarray:
        """(C, Z, Y, X) float32 map of ``method`` for output ``output`` (``select``: :func:`region_select`)."""
        logit = self.score(output)
        args = (select,)
        if method == "saliency":
            from captum.attr import Saliency

            attr = Saliency(logit).attribute(self.x.clone().requires_grad_(True), target=0, abs=True,
                                             additional_forward_args=args)
        elif method == "ig":
            from captum.attr import IntegratedGradients

            attr = IntegratedGradients(logit).attribute(self.x, baselines=torch.zeros_like(self.x), target=0,
                                                        additional_forward_args=args, n_steps=IG_STEPS,
                                                        internal_batch_size=self.batch_size)
        elif method == "occlusion":
            from captum.attr import Occlusion

            block = (1, *[max(1, -(-s // OCCLUSION_BLOCKS)) for s in self.x.shape[2:]])
            with torch.no_grad():
                attr = Occlusion(self.score(output, probability=True)).attribute(
                    self.x, sliding_window_shapes=block, strides=block, baselines=0.0, target=0,
                    additional_forward_args=args, perturbations_per_eval=self.batch_size)
        else:
            raise ValueError(f"unknown 3-D method {method!r}")
        return attr.detach()[0].numpy().astype(np.float32)

    @torch.no_grad()
    def channel_ablation(self, output: int, select: torch.Tensor) -> np.ndarray:
        """(C,) drop in output ``output``'s probability-scale score when each channel is set to 0 (the
        normalised background) over the whole patch."""
        from captum.attr import FeatureAblation

        n_channels = self.x.shape[1]
        features = torch.arange(n_channels).reshape(1, n_channels, 1, 1, 1).expand_as(self.x)
        attr = FeatureAblation(self.score(output, probability=True)).attribute(
            self.x, baselines=0.0, target=0, additional_forward_args=(select,), feature_mask=features,
            perturbations_per_eval=min(n_channels, self.batch_size))
        return attr[0].flatten(1)[:, 0].numpy().astype(np.float64)

    @torch.no_grad()
    def probability(self, output: int, select: torch.Tensor) -> float:
        return float(self.score(output, probability=True)(self.x, select)[0, 0])

    def scorer(self, output: int, select: torch.Tensor) -> ScoreFn:
        """Batch of (n, C, Z, Y, X) patches -> (n,) probability-scale scores (for deletion/insertion)."""
        score = self.score(output, probability=True)

        @torch.no_grad()
        def run(batch: torch.Tensor) -> np.ndarray:
            return torch.cat([score(batch[i : i + self.batch_size], select)[:, 0]
                              for i in range(0, len(batch), self.batch_size)]).numpy()

        return run


def channel_shares(attr: np.ndarray) -> np.ndarray:
    """(C,) share of the map's |attribution| in each channel (0 everywhere for an all-zero map)."""
    mass = np.abs(attr).reshape(len(attr), -1).sum(axis=1)
    total = float(mass.sum())
    return mass / total if total > 0 else np.zeros_like(mass)
