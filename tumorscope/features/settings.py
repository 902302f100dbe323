"""pyradiomics extraction settings: the defaults, a user's params file, and the extractor built from them.

Settings are kept as a pyradiomics params dict (``setting`` / ``imageType`` / ``featureClass``), so the file
written beside the table (``<table>.params.json``) is read back by ``--params`` and by pyradiomics itself.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError

# Texture families computed on every image type; shape is added per dimension (shape2D for slices).
TEXTURE = ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
LOG_SIGMAS_MM = (1.0, 3.0)

# IBSI reference-manual chapter of each pyradiomics feature family (column ``<image type>_<family>_<feature>``).
IBSI_FAMILIES = {
    "firstorder": "intensity-based statistical features (IBSI 3.3) + intensity histogram (3.4)",
    "shape": "morphological features (IBSI 3.1), 3-D",
    "shape2D": "morphological features (IBSI 3.1) of a 2-D ROI",
    "glcm": "grey level co-occurrence matrix (IBSI 3.6), averaged over directions",
    "glrlm": "grey level run length matrix (IBSI 3.7)",
    "glszm": "grey level size zone matrix (IBSI 3.8)",
    "gldm": "grey level dependence matrix (IBSI 3.11, alpha 0)",
    "ngtdm": "neighbourhood grey tone difference matrix (IBSI 3.10)",
}


def default_params(ndim: int, filters: tuple[str, ...] = ("wavelet", "log"),
                   log_sigmas: tuple[float, ...] = LOG_SIGMAS_MM) -> dict[str, Any]:
    """The default settings for ``ndim``-D ROIs (2: slices/images, 3: volumes).

    Fixed bin number (32 bins, IBSI "FBN"): MR intensities have no absolute unit, and a fixed count bounds the
    texture matrices' size, whatever the intensity range. ``preCrop`` crops to the ROI before filtering (speed).
    """
    image_types: dict[str, dict[str, Any]] = {"Original": {}}
    if "wavelet" in filters:
        image_types["Wavelet"] = {}  # one level, coif1: 2^ndim sub-bands
    if "log" in filters and log_sigmas:
        image_types["LoG"] = {"sigma": [float(s) for s in log_sigmas]}
    shape = "shape2D" if ndim == 2 else "shape"
    return {
        "setting": {"binCount": 32, "label": 1, "additionalInfo": False, "preCrop": True,
                    "minimumROIDimensions": ndim, "minimumROISize": 2},
        "imageType": image_types,
        "featureClass": {name: None for name in (shape, *TEXTURE)},  # None: every feature of the family
    }


def load_params(path: Path) -> dict[str, Any]:
    """A pyradiomics params file (YAML or JSON), checked by pyradiomics' own schema."""
    if not path.is_file():
        raise TumorscopeError("no such params file", path)
    try:
        extractor = _extractor_class()(str(path))
    except Exception as exc:  # noqa: BLE001 - pykwalify / YAML errors of a user's file: one line
        raise TumorscopeError(f"not a valid pyradiomics params file ({' '.join(str(exc).split())[:300]})", path) from exc
    return {"setting": dict(extractor.settings), "imageType": copy.deepcopy(extractor.enabledImagetypes),
            "featureClass": {k: (v or None) for k, v in extractor.enabledFeatures.items()}}


def build_extractor(params: dict[str, Any]) -> Any:
    """A pyradiomics RadiomicsFeatureExtractor for ``params`` (its logging quietened to errors)."""
    return _extractor_class()(dict(params))


def _extractor_class() -> Any:
    """pyradiomics' extractor class, its logging quietened to errors (it warns on stderr about binCount)."""
    try:
        import radiomics
        from radiomics.featureextractor import RadiomicsFeatureExtractor

        radiomics.setVerbosity(logging.ERROR)
        logging.getLogger("radiomics").setLevel(logging.ERROR)
    except ImportError as exc:  # pragma: no cover - the `radiomics` extra; installed by `make install`
        raise TumorscopeError("tumorscope features needs pyradiomics (the radiomics extra): pip install "
                              "--no-build-isolation pyradiomics==3.0.1 (make install does)") from exc
    return RadiomicsFeatureExtractor


def versions() -> dict[str, str]:
    """Versions of the libraries whose numbers the table holds."""
    from importlib.metadata import version

    return {name: version(name) for name in ("pyradiomics", "numpy", "SimpleITK", "PyWavelets", "scikit-image")}
