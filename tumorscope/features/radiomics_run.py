"""One pyradiomics extraction: a 2-D or 3-D image and its ROI -> (status, {feature name: value})."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# roi_status values: features computed / ROI without a pixel / ROI pyradiomics refuses (a line, one pixel)
OK, EMPTY, UNUSABLE = "ok", "empty", "unusable"


def radiomics_features(extractor: Any, image: np.ndarray, roi: np.ndarray,
                       spacing: Sequence[float]) -> tuple[str, dict[str, float]]:
    """Features of ``image`` (Y, X) or (Z, Y, X) inside ``roi`` (same shape, bool); ``spacing`` in ITK order.

    Names are pyradiomics' ``<image type>_<family>_<feature>``; for 2-D images its LoG images are renamed
    ``...-2D`` (pyradiomics names them ``-3D`` whatever the image's dimension; the filter is 2-D on a slice).
    """
    import SimpleITK as sitk

    if not roi.any():
        return EMPTY, {}
    if roi.all():  # pyradiomics finds no label in a mask without background: one edge pixel of margin
        image, roi = np.pad(image, 1, mode="edge"), np.pad(roi, 1)
    itk_image = sitk.GetImageFromArray(np.ascontiguousarray(image, dtype=np.float32))
    itk_image.SetSpacing(tuple(float(s) for s in spacing))
    itk_mask = sitk.GetImageFromArray(roi.astype(np.uint8))
    itk_mask.CopyInformation(itk_image)
    try:
        result = extractor.execute(itk_image, itk_mask)
    except (ValueError, RuntimeError):  # pyradiomics' mask checks (too few pixels, fewer than N dimensions)
        return UNUSABLE, {}
    features = {}
    for key, value in result.items():
        if key.startswith("diagnostics_"):
            continue
        name = key.replace("-3D_", "-2D_") if image.ndim == 2 else key
        features[name] = float(np.asarray(value).item())
    return OK, features
