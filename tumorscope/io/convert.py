"""Pixel conversions between Image forms: masks, RGB, gray, and slices stacked into a volume."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.io.image import Image

# ITU-R BT.601 luma, the weights Pillow uses for RGB -> "L".
_LUMA = np.array([0.299, 0.587, 0.114])


def binarize(array: np.ndarray) -> np.ndarray:
    """Foreground of a channels-last mask array, as bool without the channel axis.

    A pixel is foreground when any colour channel is > 0. With 2 or 4 channels the last one is
    alpha and fully transparent pixels are background (an opaque RGBA mask stays as drawn).
    """
    color, alpha = _split_alpha(array)
    foreground: np.ndarray = np.any(color > 0, axis=-1)
    if alpha is not None:
        foreground &= alpha > 0
    return foreground


def to_rgb(image: Image, background: float | None = None) -> Image:
    """The image with 3 colour channels, same dtype.

    Gray is repeated; alpha (2 or 4 channels) is dropped, or composited over ``background``
    (a pixel value, e.g. 0 for black or 255 for white in uint8) when given.
    """
    color = _flatten_alpha(image.array, background)
    if color.shape[-1] == 1:
        color = np.repeat(color, 3, axis=-1)
    return image.with_array(color)


def to_gray(image: Image, background: float | None = None) -> Image:
    """The image with 1 channel, same dtype: BT.601 luma of RGB; alpha handled as in ``to_rgb``."""
    color = _flatten_alpha(image.array, background)
    if color.shape[-1] == 3:
        color = _cast_like((color @ _LUMA)[..., None], color.dtype)
    return image.with_array(color)


def stack_slices(images: Sequence[Image], slice_spacing: float = 1.0) -> Image:
    """A volume ``(Z, Y, X, C)`` from 2-D slices in the given order.

    In-plane geometry comes from the first slice; slices are ``slice_spacing`` apart along the
    normal. ``metadata["slices"]`` lists the slice files in order.
    """
    if not images:
        raise ValueError("no slices to stack")
    first = images[0]
    for im in images:
        if im.spatial_ndim != 2:
            raise TumorscopeError(f"expected a 2-D slice, got a {im.spatial_ndim}-D image", im.path)
        if im.array.shape != first.array.shape:
            raise TumorscopeError(
                f"slice shape {im.array.shape} differs from {first.array.shape} of the first slice {first.path}",
                im.path,
            )
    direction = np.eye(3)
    direction[:2, :2] = np.reshape(first.direction, (2, 2))
    parents = {im.path.parent for im in images if im.path is not None}
    return Image(
        array=np.stack([im.array for im in images]),
        spacing=(*first.spacing, float(slice_spacing)),
        origin=(*first.origin, 0.0),
        direction=tuple(direction.ravel().tolist()),
        metadata={"slices": [str(im.path) for im in images]},
        path=parents.pop() if len(parents) == 1 else None,
    )


def _split_alpha(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour channels, alpha or None) of a channels-last array: 2 or 4 channels carry alpha last."""
    n = array.shape[-1]
    if n not in (1, 2, 3, 4):
        raise ValueError(f"expected 1-4 channels (gray, gray+alpha, RGB, RGBA), got {n}")
    if n in (2, 4):
        return array[..., :-1], array[..., -1]
    return array, None


def _flatten_alpha(array: np.ndarray, background: float | None) -> np.ndarray:
    """Colour channels with alpha dropped, or composited over ``background`` when given."""
    color, alpha = _split_alpha(array)
    if alpha is None or background is None:
        return color
    if np.issubdtype(alpha.dtype, np.integer):
        opacity = alpha / np.iinfo(alpha.dtype).max
    else:
        opacity = np.clip(alpha, 0.0, 1.0)
    opacity = opacity[..., None]
    return _cast_like(color * opacity + background * (1.0 - opacity), color.dtype)


def _cast_like(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float results back to ``dtype``, rounded and clipped for integer types."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return values.astype(dtype)
