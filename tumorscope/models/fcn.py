"""A plain fully-convolutional baseline (no skip connections), for comparison with the U-Net."""

from __future__ import annotations

import torch
from torch import nn


class PlainFCN(nn.Module):
    """Conv-BN-ReLU encoder with ``depth`` stride-2 stages, 1x1 classifier, bilinear upsampling (FCN-32s style)."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 32, depth: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(depth):
            w = width * 2**i
            layers += [
                nn.Conv2d(c, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            ]
            c = w
        self.encoder = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(c, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.classifier(self.encoder(x))
        return nn.functional.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
