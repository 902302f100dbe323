"""Local binary pattern histograms inside an ROI (scikit-image), the texture pyradiomics 3.0.1 does not tabulate.

``uniform`` LBP with P neighbours on a circle of radius R gives P + 2 codes (P + 1 uniform patterns and one bin
for all non-uniform ones); the histogram over the ROI's pixels, normalised to sum 1, is P + 2 columns named
``lbp-P8-R1_uniform_bin00``... For volumes, LBP runs on each slice (2-D) and one histogram pools the ROI pixels
of all slices.
"""

from __future__ import annotations

import warnings

import numpy as np

LBP_POINTS = 8
LBP_RADIUS = 1.0


def lbp_columns(points: int = LBP_POINTS, radius: float = LBP_RADIUS) -> list[str]:
    return [f"lbp-P{points}-R{radius:g}_uniform_bin{i:02d}" for i in range(points + 2)]


def lbp_histogram(volume: np.ndarray, roi: np.ndarray, points: int = LBP_POINTS,
                  radius: float = LBP_RADIUS) -> dict[str, float]:
    """Normalised uniform-LBP histogram of the ROI pixels of a (Z, Y, X) volume; NaNs for an empty ROI."""
    from skimage.feature import local_binary_pattern

    names = lbp_columns(points, radius)
    counts = np.zeros(points + 2)
    for image, mask in zip(volume, roi):
        if not mask.any():
            continue
        with warnings.catch_warnings():  # float images: scikit-image warns about equality of floats
            warnings.simplefilter("ignore")
            codes = local_binary_pattern(image, points, radius, method="uniform")
        counts += np.bincount(codes[mask].astype(np.int64), minlength=points + 2)[: points + 2]
    total = counts.sum()
    if total == 0:
        return dict.fromkeys(names, float("nan"))
    return {n: float(c / total) for n, c in zip(names, counts)}
