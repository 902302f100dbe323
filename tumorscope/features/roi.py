"""Regions of interest for feature extraction: the expert mask, the foreground, the whole image.

(The fourth mode, a bundle's prediction, runs a model: extract.py asks tumorscope.predict for it.)

Foreground (the brain of an MR slice, the body of a CT/ultrasound image), one documented rule:
1. threshold = Otsu's threshold of the whole volume (all slices of a patient together, so small top and bottom
   slices are cut at the same level as the middle ones); pixels above it;
2. the largest connected component (8-connected in 2-D) of each slice, or of the volume (26-connected) for
   volume rows;
3. holes filled slice by slice (ventricles, dark tumor cores stay inside the ROI).
A slice with nothing above the threshold (blank top/bottom slices) has an empty foreground.
"""

from __future__ import annotations

import numpy as np


def otsu_threshold(volume: np.ndarray) -> float:
    """Otsu's threshold of a volume's intensities; +inf for a constant volume (its foreground is empty)."""
    from skimage.filters import threshold_otsu

    if volume.size == 0 or float(volume.min()) == float(volume.max()):
        return float("inf")
    return float(threshold_otsu(volume))


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest connected component of a 2-D or 3-D mask (full connectivity); empty stays empty."""
    from skimage.measure import label

    labels = label(mask, connectivity=mask.ndim)
    if labels.max() == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def fill_holes_per_slice(mask: np.ndarray) -> np.ndarray:
    """Holes filled in each (Y, X) slice of a (Z, Y, X) mask."""
    from scipy.ndimage import binary_fill_holes

    return np.stack([binary_fill_holes(s) for s in mask]) if mask.size else mask.astype(bool)


def foreground(volume: np.ndarray, per_slice: bool = True) -> np.ndarray:
    """Foreground of a (Z, Y, X) volume by the rule above: bool (Z, Y, X)."""
    above = volume > otsu_threshold(volume)
    if per_slice:
        kept = np.stack([largest_component(s) for s in above]) if len(above) else above
    else:
        kept = largest_component(above)
    return fill_holes_per_slice(kept)


def whole(volume: np.ndarray) -> np.ndarray:
    """Every pixel: bool (Z, Y, X) of ones."""
    return np.ones(volume.shape, dtype=bool)
