"""Image classifiers (MONAI networks, no torchvision/timm), each with named *stages* for ``--freeze N``.

Every builder takes ``(in_channels, n_classes, width=..., size=...)``: ``width`` is the channel count of
the first stage (64 = the published networks; smaller is cheaper on a CPU), ``size`` the square input
size (only the ViT needs it). Registering happens on import (see ``models.registry._load_extra_models``).

MONAI has no Inception, so the CNN+RNN hybrid of seed 2 (InceptionV3 + LSTM) is ``cnn_gru`` here: a small
CNN encodes the cells of a 4x4 grid over the image, read in raster order by a bidirectional GRU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import nn

from tumorscope.errors import TumorscopeError
from tumorscope.models.registry import ModelSpec, register

log = logging.getLogger(__name__)

# Per architecture: the stages in input-to-output order, each a tuple of state_dict key prefixes.
# ``--freeze N`` freezes the parameters (and BatchNorm statistics) of the first N; the head is never frozen.
_RESNET_STAGES = (("conv1.", "bn1."), ("layer1.",), ("layer2.",), ("layer3.",), ("layer4.",))
STAGES: dict[str, tuple[tuple[str, ...], ...]] = {
    "cnn": tuple((f"features.{i}.",) for i in range(4)),
    "resnet18": _RESNET_STAGES,
    "resnet34": _RESNET_STAGES,
    "resnet50": _RESNET_STAGES,
    "densenet121": (
        ("features.conv0.", "features.norm0."),
        *((f"features.denseblock{i}.", f"features.transition{i}.") for i in (1, 2, 3)),
        ("features.denseblock4.", "features.norm5."),
    ),
    "vit": (("vit.patch_embedding.", "vit.cls_token"), *((f"vit.blocks.{2 * i}.", f"vit.blocks.{2 * i + 1}.")
                                                        for i in range(3))),
    "cnn_gru": (("encoder.0.",), ("encoder.1.",), ("encoder.2.",), ("gru.",)),
}


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    """Two 3x3 conv-BN-ReLU layers, then 2x2 max pooling."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class SmallCNN(nn.Module):
    """Four conv blocks (width, 2w, 4w, 8w channels), global average pooling, dropout, linear head."""

    def __init__(self, in_channels: int, n_classes: int, width: int = 16, dropout: float = 0.3) -> None:
        super().__init__()
        chans = [in_channels] + [width * 2**i for i in range(4)]
        self.features = nn.Sequential(*(_conv_block(a, b) for a, b in zip(chans[:-1], chans[1:])))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(chans[-1], n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class CNNGRU(nn.Module):
    """CNN + RNN hybrid: a shared CNN encodes each cell of a ``grid`` x ``grid`` tiling of the image; a
    bidirectional GRU reads the cell features in raster order; its final states feed the linear head."""

    def __init__(self, in_channels: int, n_classes: int, width: int = 16, grid: int = 4) -> None:
        super().__init__()
        self.grid = grid
        chans = [in_channels, width, 2 * width, 4 * width]
        self.encoder = nn.Sequential(
            *(_conv_block(a, b) for a, b in zip(chans[:-1], chans[1:])), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.gru = nn.GRU(chans[-1], chans[-1], batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(2 * chans[-1], n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = self.grid
        if h % g or w % g:
            raise ValueError(f"cnn_gru needs an input size divisible by {g}, got {h}x{w}")
        cells = x.reshape(b, c, g, h // g, g, w // g).permute(0, 2, 4, 1, 3, 5).reshape(b * g * g, c, h // g, w // g)
        seq = self.encoder(cells).reshape(b, g * g, -1)
        _, last = self.gru(seq.float())  # (2, B, H): final forward and backward states
        return self.head(torch.cat([last[0], last[1]], dim=1))


class ViTClassifier(nn.Module):
    """MONAI ViT in classification mode returning logits only (MONAI returns (logits, hidden states))."""

    def __init__(self, in_channels: int, n_classes: int, size: int = 128, width: int = 48, layers: int = 6) -> None:
        super().__init__()
        from monai.networks.nets import ViT

        patch = max(4, size // 8)
        if size % patch:
            raise TumorscopeError(f"vit: --size {size} must be a multiple of its patch size {patch}")
        hidden = 4 * width  # divisible by the 4 heads
        self.vit = ViT(
            in_channels, img_size=size, patch_size=patch, hidden_size=hidden, mlp_dim=2 * hidden, num_layers=layers,
            num_heads=4, classification=True, num_classes=n_classes, spatial_dims=2, post_activation=None,
            dropout_rate=0.1, qkv_bias=True,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vit(x)[0]


def _resnet(depth: int) -> Callable[..., nn.Module]:
    def build(in_channels: int, out_channels: int, width: int = 64, **_: object) -> nn.Module:
        from monai.networks.nets import resnet

        make = getattr(resnet, f"resnet{depth}")
        # conv1_t_stride=2: MONAI's default stride-1 stem costs 4x the FLOPs of the published ResNet.
        return make(spatial_dims=2, n_input_channels=in_channels, num_classes=out_channels, conv1_t_stride=2,
                    widen_factor=width / 64)

    return build


def _densenet(in_channels: int, out_channels: int, width: int = 64, **_: object) -> nn.Module:
    from monai.networks.nets import DenseNet121

    return DenseNet121(spatial_dims=2, in_channels=in_channels, out_channels=out_channels, init_features=width,
                       growth_rate=max(4, width // 2))


def _small_cnn(in_channels: int, out_channels: int, width: int = 16, **_: object) -> nn.Module:
    return SmallCNN(in_channels, out_channels, width=width)


def _cnn_gru(in_channels: int, out_channels: int, width: int = 16, **_: object) -> nn.Module:
    return CNNGRU(in_channels, out_channels, width=width)


def _vit(in_channels: int, out_channels: int, width: int = 48, size: int = 128, **_: object) -> nn.Module:
    return ViTClassifier(in_channels, out_channels, size=size, width=width)


for _spec in (
    ModelSpec("cnn", "classification", 2, "small CNN from scratch: 4 conv blocks, global pooling (stages: 4 blocks)",
              _small_cnn),
    *(ModelSpec(f"resnet{d}", "classification", 2,
                f"MONAI ResNet-{d}, stride-2 stem; --width 64 = published size (stages: stem, layer1-4)", _resnet(d))
      for d in (18, 34, 50)),
    ModelSpec("densenet121", "classification", 2,
              "MONAI DenseNet-121; --width = init features, growth width/2 (stages: stem, dense blocks 1-4)",
              _densenet),
    ModelSpec("vit", "classification", 2,
              "MONAI ViT, 6 layers, 4 heads, hidden 4*width, 8x8 patches (stages: embedding, 3 pairs of blocks)", _vit),
    ModelSpec("cnn_gru", "classification", 2,
              "CNN+GRU hybrid: CNN per 4x4 grid cell, bidirectional GRU over the cells (stages: 3 conv blocks, GRU)",
              _cnn_gru),
):
    register(_spec)


def stages(name: str) -> tuple[tuple[str, ...], ...]:
    """The freezable stages of a registered classifier, input side first."""
    if name not in STAGES:
        raise TumorscopeError(f"model {name!r} has no stages to freeze (classifiers: {', '.join(STAGES)})")
    return STAGES[name]


def freeze_stages(model: nn.Module, name: str, n: int) -> list[nn.Module]:
    """Freeze the parameters of the first ``n`` stages; returns their BatchNorm layers, which the training
    loop must keep in eval mode (frozen running statistics)."""
    if n == 0:
        return []
    all_stages = stages(name)
    if not 0 < n <= len(all_stages):
        raise TumorscopeError(f"--freeze {n}: {name} has {len(all_stages)} stages, so use 0..{len(all_stages)}")
    prefixes = tuple(p for stage in all_stages[:n] for p in stage)
    frozen = 0
    for key, param in model.named_parameters():
        if key.startswith(prefixes):
            param.requires_grad_(False)
            frozen += param.numel()
    norms: list[nn.Module] = [m for key, m in model.named_modules()
             if key and (key + ".").startswith(prefixes) and isinstance(m, nn.modules.batchnorm._BatchNorm)]
    total = sum(p.numel() for p in model.parameters())
    log.info("froze the first %d of %d stages of %s: %d of %d parameters", n, len(all_stages), name, frozen, total)
    return norms
