"""Choosing the model's input channels from what a file holds."""

from __future__ import annotations

import numpy as np

from tumorscope.errors import TumorscopeError

# kaggle_3m LGG TIFFs store (pre-contrast, FLAIR, post-contrast) as RGB.
KAGGLE3M_FLAIR = 1


def select_channels(array: np.ndarray, mode: str, path: object = None) -> np.ndarray:
    """Pick the channels a model expects from a channels-last array.

    ``flair``: one channel - a gray image as is, channel 1 of a 3-channel kaggle_3m slice (RGBA: alpha dropped).
    ``mri3``: three MR sequences (pre-contrast, FLAIR, post-contrast, as kaggle_3m stores them); a single-channel
    image (a FLAIR NIfTI or DICOM series) fills all three, as kaggle_3m itself does for missing sequences.
    ``gray``: one channel - the mean of RGB. ``rgb``: three channels - gray repeated when needed. ``all``: unchanged.
    """
    if mode == "all":  # unchanged: 4 channels are 4 MR modalities here (BraTS), not RGBA
        return array
    c = array.shape[-1]
    if c == 4:
        array, c = array[..., :3], 3
    if mode == "flair":
        if c == 1:
            return array
        if c == 3:
            return array[..., KAGGLE3M_FLAIR : KAGGLE3M_FLAIR + 1]
    elif mode == "mri3":
        if c in (1, 3):
            return np.repeat(array, 3, axis=-1) if c == 1 else array
    elif mode == "gray":
        if c in (1, 3):
            return array.mean(axis=-1, keepdims=True) if c == 3 else array
    elif mode == "rgb":
        if c in (1, 3):
            return np.repeat(array, 3, axis=-1) if c == 1 else array
    else:
        raise ValueError(f"unknown channel mode {mode!r}")
    raise TumorscopeError(f"has {c} channels; this model takes {mode} input (1 or 3 channels)", path)  # type: ignore[arg-type]
