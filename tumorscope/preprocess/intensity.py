"""Intensity normalisation of a slice or a whole volume (statistics over the non-zero foreground)."""

from __future__ import annotations

import numpy as np

METHODS = ("percentile", "zscore", "none")


def normalize(array: np.ndarray, method: str = "percentile", low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Normalise each channel of a channels-last array; statistics come from its non-zero voxels.

    ``percentile`` maps the [low, high] percentiles to [0, 1] (clipped); ``zscore`` subtracts the mean
    and divides by the standard deviation. Background (exact zeros) stays 0 in ``percentile``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown normalisation {method!r}; choose from {METHODS}")
    out = array.astype(np.float32, copy=True)
    if method == "none":
        return out
    for c in range(out.shape[-1]):
        ch = out[..., c]
        fg = ch[ch != 0]
        if fg.size < 16:
            fg = ch.ravel()
        if method == "percentile":
            lo, hi = np.percentile(fg, [low, high])
            scale = max(float(hi - lo), 1e-6)
            ch[...] = np.clip((ch - lo) / scale, 0.0, 1.0)
        else:
            ch[...] = (ch - fg.mean()) / max(float(fg.std()), 1e-6)
    return out
