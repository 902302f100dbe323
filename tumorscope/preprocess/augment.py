"""Training-time augmentation for segmentation: batched torch geometry/intensity on image + mask.

(Classification has its own batched augmenter, ``tumorscope.train.classification.batch_augment``.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LEVELS = ("none", "light", "default", "heavy")


class BatchAugment:
    """Random geometry and intensity for whole (N, C, H, W) batches at once (image + optional mask).

    Per-sample MONAI transforms cost ~20 ms a slice on this CPU, more than the network step, so
    training augments batches in torch: horizontal flip, rotation (+-15 deg), scaling (+-12 %),
    translation, an elastic field (``heavy``), gamma and intensity scaling. Geometry moves image and
    mask together (bilinear / nearest); intensity touches the image only. Each draw comes from
    ``generator``, so a seeded run is reproducible.
    """

    def __init__(self, level: str = "default", seed: int = 0) -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown augmentation level {level!r}; choose from {LEVELS}")
        self.level = level
        self.generator = torch.Generator().manual_seed(seed)

    def _u(self, n: int, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=self.generator)

    def __call__(self, image: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.level == "none":
            return image, mask
        n = image.shape[0]
        p_affine = 0.5 if self.level == "light" else 0.7
        apply = torch.rand(n, generator=self.generator) < p_affine
        angle = self._u(n, -0.26, 0.26) * apply
        scale = 1 + self._u(n, -0.12, 0.12) * apply
        shift = torch.stack([self._u(n, -0.06, 0.06), self._u(n, -0.06, 0.06)], 1) * apply[:, None]
        flip = torch.where(torch.rand(n, generator=self.generator) < 0.5, -1.0, 1.0)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, list(image.shape), align_corners=False)
        if self.level == "heavy":
            coarse = self._u(n * 2 * 36, -0.03, 0.03).view(n, 2, 6, 6)
            field = F.interpolate(coarse, size=image.shape[-2:], mode="bicubic", align_corners=False)
            grid = grid + field.permute(0, 2, 3, 1)
        image = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if mask is not None:
            mask = F.grid_sample(mask, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        gamma = torch.where(torch.rand(n, generator=self.generator) < 0.3, self._u(n, 0.75, 1.35), torch.ones(n))
        gain = torch.where(torch.rand(n, generator=self.generator) < 0.3, self._u(n, 0.85, 1.15), torch.ones(n))
        lo = image.amin(dim=(1, 2, 3), keepdim=True)
        rng = (image.amax(dim=(1, 2, 3), keepdim=True) - lo).clamp_min(1e-6)
        image = ((image - lo) / rng).pow(gamma.view(n, 1, 1, 1)) * rng + lo
        image = image * gain.view(n, 1, 1, 1)
        if self.level == "heavy":
            image = image + 0.03 * torch.randn(image.shape, generator=self.generator) * (
                torch.rand(n, 1, 1, 1, generator=self.generator) < 0.2
            )
        return image, mask
