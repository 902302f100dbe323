"""Writing a BraTS prediction: the label map in the case's own labels, on the grid of its first modality."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tumorscope.data.brats import MODALITIES
from tumorscope.data.brats_cases import Case
from tumorscope.io import Image, read_image, write_image
from tumorscope.predict.brats_regions import RegionPost, label_map


def write_label_map(probs: np.ndarray, post: RegionPost, case: Case, path: Path, like: Image | None = None) -> np.ndarray:
    """Threshold, post-process and decode (3, Z, Y, X) original-grid probabilities, write the label map as
    NIfTI with the geometry of ``like`` (default: the case's first modality file); returns the labels."""
    labels = label_map(probs, post, case.scheme)
    like = like if like is not None else read_image(case.modalities[MODALITIES[0]][0])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(like.with_array(labels[..., None]), path)
    return labels
