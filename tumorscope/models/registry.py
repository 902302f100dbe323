"""The model registry: name -> ModelSpec. Architecture modules register into it; it imports none of them."""

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


MODELS: dict[str, ModelSpec] = {}  # filled on import of tumorscope.models (catalog, classifiers)


def register(spec: ModelSpec) -> None:
    """Add a model to the registry (each architecture module registers its own)."""
    MODELS[spec.name] = spec


def build_model(name: str, in_channels: int, out_channels: int, **options: object) -> nn.Module:
    """Build a registered model by name."""
    if name not in MODELS:
        raise TumorscopeError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name].build(in_channels, out_channels, **options)


def describe_models(task: str | None = None) -> list[ModelSpec]:
    return [s for s in MODELS.values() if task is None or s.task == task]
