"""Named model builders. Each takes (in_channels, out_channels) plus keyword options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from tumorscope.errors import TumorscopeError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str  # "segmentation" or "classification"
    spatial_dims: int
    summary: str
    build: Callable[..., nn.Module]


def _unet(spatial_dims: int) -> Callable[..., nn.Module]:
    def build(in_channels: int, out_channels: int, width: int = 16, **_: object) -> nn.Module:
        from monai.networks.nets import UNet

        chans = tuple(width * 2**i for i in range(5))
        return UNet(spatial_dims, in_channels, out_channels, channels=chans, strides=(2, 2, 2, 2), num_res_units=2)

    return build


def _ensemble(in_channels: int, out_channels: int, **options: object) -> nn.Module:
    from tumorscope.models.ensemble import build_ensemble

    return build_ensemble(in_channels, out_channels, **options)  # type: ignore[arg-type]


def _fcn(in_channels: int, out_channels: int, width: int = 32, **_: object) -> nn.Module:
    from tumorscope.models.fcn import PlainFCN

    return PlainFCN(in_channels, out_channels, width=width)


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec("unet2d", "segmentation", 2, "MONAI residual U-Net on 2-D slices", _unet(2)),
        ModelSpec(
            "unet25d", "segmentation", 2,
            "2.5-D U-Net: the slice and its neighbours (above/below) as extra input channels", _unet(2),
        ),
        ModelSpec("unet3d", "segmentation", 3, "MONAI residual 3-D U-Net with sliding-window inference", _unet(3)),
        ModelSpec("fcn", "segmentation", 2, "plain FCN baseline (no skip connections)", _fcn),
        ModelSpec(
            "ensemble", "any", 2,
            "mean probability of trained members, each on its own input channels (`tumorscope ensemble`)", _ensemble,
        ),
    )
}


def register(spec: ModelSpec) -> None:
    """Add a model to the registry (used by the classification models module)."""
    MODELS[spec.name] = spec


def build_model(name: str, in_channels: int, out_channels: int, **options: object) -> nn.Module:
    """Build a registered model by name."""
    _load_extra_models()
    if name not in MODELS:
        raise TumorscopeError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name].build(in_channels, out_channels, **options)


def describe_models(task: str | None = None) -> list[ModelSpec]:
    _load_extra_models()
    return [s for s in MODELS.values() if task is None or s.task == task]


def _load_extra_models() -> None:
    try:
        import tumorscope.models.classifiers  # noqa: F401 - registers classification models on import
    except ModuleNotFoundError as exc:
        if exc.name != "tumorscope.models.classifiers":
            raise
