"""Optional contrast enhancement and denoising of 2-D slices (scikit-image)."""

from __future__ import annotations

import numpy as np

METHODS = ("none", "clahe", "histeq", "denoise")


def enhance(slice_: np.ndarray, method: str = "none") -> np.ndarray:
    """Enhance one (Y, X, C) float slice scaled to [0, 1], channel by channel."""
    if method not in METHODS:
        raise ValueError(f"unknown enhancement {method!r}; choose from {METHODS}")
    if method == "none":
        return slice_
    from skimage import exposure, restoration  # 0.3 s: only for bundles that enhance

    out = np.empty_like(slice_)
    for c in range(slice_.shape[-1]):
        ch = np.clip(slice_[..., c], 0.0, 1.0)
        if method == "clahe":
            out[..., c] = exposure.equalize_adapthist(ch, clip_limit=0.01)
        elif method == "histeq":
            out[..., c] = exposure.equalize_hist(ch, mask=ch > 0) * (ch > 0)
        else:
            out[..., c] = restoration.denoise_tv_chambolle(ch, weight=0.05)
    return out.astype(np.float32)
