"""The segmentation architectures and the ensemble, registered by name (classifiers register in classifiers.py)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from tumorscope.models.ensemble import build_ensemble
from tumorscope.models.registry import ModelSpec, build_model, register


def _unet(spatial_dims: int) -> Callable[..., nn.Module]:
    def build(in_channels: int, out_channels: int, width: int = 16, **_: object) -> nn.Module:
        from monai.networks.nets import UNet

        chans = tuple(width * 2**i for i in range(5))
        return UNet(spatial_dims, in_channels, out_channels, channels=chans, strides=(2, 2, 2, 2), num_res_units=2)

    return build


def _segresnet(in_channels: int, out_channels: int, width: int = 8, **_: object) -> nn.Module:
    from monai.networks.nets import SegResNet

    return SegResNet(3, init_filters=width, in_channels=in_channels, out_channels=out_channels,
                     blocks_down=(1, 2, 2, 4), blocks_up=(1, 1, 1))


def _ensemble(in_channels: int, out_channels: int, **options: object) -> nn.Module:
    return build_ensemble(in_channels, out_channels, build_model, **options)  # type: ignore[arg-type]


def _fcn(in_channels: int, out_channels: int, width: int = 32, **_: object) -> nn.Module:
    from tumorscope.models.fcn import PlainFCN

    return PlainFCN(in_channels, out_channels, width=width)


for _spec in (
    ModelSpec("unet2d", "segmentation", 2, "MONAI residual U-Net on 2-D slices", _unet(2)),
    ModelSpec(
        "unet25d", "segmentation", 2,
        "2.5-D U-Net: the slice and its neighbours (above/below) as extra input channels", _unet(2),
    ),
    ModelSpec("unet3d", "segmentation", 3, "MONAI residual 3-D U-Net with sliding-window inference", _unet(3)),
    ModelSpec("segresnet3d", "segmentation", 3,
              "MONAI SegResNet (Myronenko, BraTS 2018 winner), 3-D; --width = initial filters", _segresnet),
    ModelSpec("fcn", "segmentation", 2, "plain FCN baseline (no skip connections)", _fcn),
    ModelSpec(
        "ensemble", "any", 2,
        "mean probability of trained members, each on its own input channels (`tumorscope ensemble`)", _ensemble,
    ),
):
    register(_spec)
