"""Resizing network inputs and outputs with numpy and Pillow, the same arithmetic as the PyTorch calls the
PyTorch path makes, so an exported variant runs without importing torch (docs/speed.md):

- :func:`resize_antialiased` = ``F.interpolate(x, size, mode="bilinear", align_corners=False, antialias=True)``
  (Pillow's bilinear resampling, which PyTorch's antialiased mode reproduces: a triangle filter widened by the
  scale when shrinking);
- :func:`resize_bilinear` = ``F.interpolate(x, size, mode="bilinear", align_corners=False)`` (no antialiasing);
- :func:`with_neighbours_array` = :func:`tumorscope.preprocess.pipeline.with_neighbours`.

They agree with PyTorch to float32 rounding (tests/preprocess/test_resample.py), not bit for bit.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def resize_antialiased(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, C, H, W) float32 -> (N, C, *size), bilinear with antialiasing; unchanged when already that size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    out = np.empty((*x.shape[:2], *size), dtype=np.float32)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):  # Pillow's (width, height) order
            img = Image.fromarray(np.ascontiguousarray(x[n, c], dtype=np.float32), mode="F")
            out[n, c] = np.asarray(img.resize((size[1], size[0]), Image.Resampling.BILINEAR))
    return out


def _axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (lower, upper) and the upper weight of each output position along one axis
    (half-pixel centres, clamped at the edges, as PyTorch's ``align_corners=False``)."""
    scale = np.float32(n_in / n_out)
    src = np.maximum((np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), 0)
    lo = np.minimum(src.astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, (src - lo).astype(np.float32)


def resize_bilinear(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(..., H, W) float32 -> (..., *size), bilinear without antialiasing; unchanged when already that size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    y0, y1, wy = _axis(x.shape[-2], size[0])
    x0, x1, wx = _axis(x.shape[-1], size[1])
    rows = x[..., y0, :] * (1 - wy)[:, None] + x[..., y1, :] * wy[:, None]
    return (rows[..., x0] * (1 - wx) + rows[..., x1] * wx).astype(np.float32)


def with_neighbours_array(x: np.ndarray, context: int = 1) -> np.ndarray:
    """(N, C, H, W) ordered slices of one volume -> (N, (2k+1)C, H, W): slices i-k..i+k as channels
    (edges repeat the first/last slice)."""
    idx = np.arange(x.shape[0])
    return np.concatenate([x[np.clip(idx + o, 0, x.shape[0] - 1)] for o in range(-context, context + 1)], axis=1)
