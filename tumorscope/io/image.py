"""The Image object: pixels plus geometry plus source metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Image:
    """Pixels with the geometry that places them in the world.

    ``array`` is channels-last in numpy axis order: ``(Y, X, C)`` for 2-D images and
    ``(Z, Y, X, C)`` for volumes; a gray image has ``C == 1``.
    ``spacing``, ``origin`` and ``direction`` follow the ITK convention (x, y[, z] order,
    ``direction`` a row-major ``dim x dim`` matrix flattened), as SimpleITK reports them.
    """

    array: np.ndarray
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.array.ndim not in (3, 4):
            raise ValueError(f"Image.array must be (Y,X,C) or (Z,Y,X,C), got shape {self.array.shape}")
        dim = self.spatial_ndim
        if len(self.spacing) != dim or len(self.origin) != dim or len(self.direction) != dim * dim:
            raise ValueError(
                f"geometry does not match a {dim}-D image: spacing={self.spacing}, "
                f"origin={self.origin}, direction={self.direction}"
            )

    @property
    def spatial_ndim(self) -> int:
        """2 for a slice, 3 for a volume."""
        return self.array.ndim - 1

    @property
    def n_channels(self) -> int:
        return int(self.array.shape[-1])

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.array.shape[:-1])

    @classmethod
    def from_array(
        cls,
        array: np.ndarray,
        spacing: tuple[float, ...] | None = None,
        origin: tuple[float, ...] | None = None,
        direction: tuple[float, ...] | None = None,
        metadata: dict[str, Any] | None = None,
        path: Path | None = None,
    ) -> Image:
        """Build an Image from a channels-last array with identity geometry by default."""
        dim = array.ndim - 1
        return cls(
            array=array,
            spacing=tuple(spacing) if spacing is not None else (1.0,) * dim,
            origin=tuple(origin) if origin is not None else (0.0,) * dim,
            direction=tuple(direction) if direction is not None else tuple(np.eye(dim).ravel().tolist()),
            metadata=dict(metadata or {}),
            path=path,
        )

    def with_array(self, array: np.ndarray, **metadata: Any) -> Image:
        """A copy with new pixels (same spatial shape) and the same geometry."""
        return Image(array, self.spacing, self.origin, self.direction, {**self.metadata, **metadata}, self.path)
