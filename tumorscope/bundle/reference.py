"""Reference statistics of a bundle (``reference.json`` beside ``config.json``) and the drift tests against them.

At training time a bundle records what its inputs and outputs looked like on images it was trained or validated
on (never test images): per slice, the raw intensity mean / standard deviation / 99th percentile, and the
model's outputs (segmentation: tumor fraction and highest probability; classification: each class's probability
and the highest). The service computes the same features on live inputs and compares the two samples with the
population stability index (:func:`psi`) and the two-sample Kolmogorov-Smirnov test (:func:`ks`).

The file keeps, per feature, a sorted sample of at most ``MAX_VALUES`` values (evenly spaced quantiles when
there were more) and the number of values it summarises. It lives outside ``config.json``, whose schema is
strict, and is optional: bundles made before it have none.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import write_text
from tumorscope.errors import TumorscopeError

REFERENCE_FILE = "reference.json"
REFERENCE_VERSION = 1
MAX_VALUES = 1000  # values kept per feature: quantiles of a larger sample (PSI and KS need no more)
SIGNIFICANT_DIGITS = 5  # enough to keep quantile bins apart; keeps the file small
PSI_EPSILON = 1e-4  # share given to an empty bin, so a bin empty on one side adds a large but finite term
INPUT_FEATURES = ("intensity_mean", "intensity_std", "intensity_p99")


# ---- per-slice features ---------------------------------------------------------------------------------------
def input_features(slices: np.ndarray | Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Raw intensity statistics per slice, all channels pooled, in the input's own units (before any
    normalisation, so a scanner or export change shows). ``slices``: (N, Y, X, C) as predict reads them, or a
    sequence of (Y, X, C) images of different sizes (classification inputs)."""
    stats = np.zeros((len(slices), 3))
    for i, s in enumerate(slices):  # one slice at a time: a float copy of a whole volume can be large
        v = np.asarray(s, dtype=np.float32).ravel()
        stats[i] = (v.mean(dtype=np.float64), v.std(dtype=np.float64), np.percentile(v, 99)) if v.size else np.nan
    return {name: stats[:, j] for j, name in enumerate(INPUT_FEATURES)}


def segmentation_features(prob: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per slice: the fraction of pixels in the (post-processed) tumor mask and the highest tumor probability."""
    prob, mask = np.asarray(prob), np.asarray(mask)
    if prob.shape != mask.shape or prob.ndim != 3:
        raise ValueError(f"expected (N, Y, X) probabilities and mask of one shape, got {prob.shape} and {mask.shape}")
    n = len(prob)
    return {"tumor_fraction": mask.reshape(n, -1).mean(axis=1, dtype=np.float64),
            "max_probability": prob.reshape(n, -1).max(axis=1, initial=0.0).astype(np.float64)}


def classification_features(probs: np.ndarray, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Per image: the highest class probability (the model's confidence) and ``p_<class>`` for each class."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise ValueError(f"expected (N, {len(classes)}) probabilities, got shape {probs.shape}")
    return {"max_probability": probs.max(axis=1, initial=0.0),
            **{f"p_{c}": probs[:, k] for k, c in enumerate(classes)}}


def features_for_segmentation(slices: np.ndarray, prob: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Input and output features of one segmented input (raw slices, probabilities, mask; one row per slice)."""
    return input_features(slices) | segmentation_features(prob, mask)


def features_for_classification(slices: np.ndarray | Sequence[np.ndarray], probs: np.ndarray,
                                classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Input and output features of classified images (raw images, (N, K) probabilities)."""
    return input_features(slices) | classification_features(probs, classes)


# ---- the reference file ---------------------------------------------------------------------------------------
def round_values(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Values at the reference's precision (``SIGNIFICANT_DIGITS``), by the same decimal formatting the file
    stores, so a live 0.999999 and a stored 1.0 compare equal (point masses, see :func:`psi`)."""
    return np.array([float(f"{x:.{SIGNIFICANT_DIGITS}g}") for x in np.asarray(values, dtype=np.float64).ravel().tolist()])


def build_reference(features: Mapping[str, Sequence[float] | np.ndarray], source: str,
                    n_inputs: int | None = None) -> dict[str, Any]:
    """The JSON-able reference of per-slice feature values; ``source`` says which images they come from and
    ``n_inputs`` from how many volumes / images (slices of one volume are not independent). Non-finite values
    are left out; a feature with no value left is an error."""
    out: dict[str, Any] = {}
    for name, values in features.items():
        v = np.asarray(values, dtype=np.float64).ravel()
        v = np.sort(v[np.isfinite(v)])
        if not v.size:
            raise ValueError(f"feature {name!r} has no finite value")
        kept = np.quantile(v, (np.arange(MAX_VALUES) + 0.5) / MAX_VALUES) if v.size > MAX_VALUES else v
        out[name] = {"n": int(v.size), "values": round_values(kept).tolist()}  # mid-point quantiles stand for many
    ref: dict[str, Any] = {"format_version": REFERENCE_VERSION, "source": source}
    return ref | ({"n_inputs": int(n_inputs)} if n_inputs is not None else {}) | {"features": out}


def check_reference(ref: Any, path: Path | None = None) -> dict[str, Any]:
    """``ref`` when it is a reference this version reads, else a TumorscopeError naming what is wrong."""
    def bad(problem: str) -> TumorscopeError:
        return TumorscopeError(f"damaged drift reference: {problem}", path)

    if not isinstance(ref, dict) or not isinstance(ref.get("features"), dict):
        raise bad("no 'features' object")
    version = ref.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise bad("no valid 'format_version'")
    if version > REFERENCE_VERSION:
        raise TumorscopeError(f"drift reference format {version} is newer than this tumorscope reads "
                              f"({REFERENCE_VERSION}): upgrade tumorscope", path)
    if not isinstance(ref.get("source"), str):
        raise bad("no 'source' text")
    if "n_inputs" in ref and (not isinstance(ref["n_inputs"], int) or ref["n_inputs"] < 1):
        raise bad("'n_inputs' is not a positive integer")
    for name, feat in ref["features"].items():
        values = feat.get("values") if isinstance(feat, dict) else None
        if not isinstance(values, list) or not values or not isinstance(feat.get("n"), int):
            raise bad(f"feature {name!r} needs 'n' and a non-empty 'values' list")
        if not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in values):
            raise bad(f"feature {name!r} has a value that is not a finite number")
    return ref


def _dumps(ref: dict[str, Any]) -> str:
    return json.dumps(ref, separators=(",", ":")) + "\n"


def write_reference_file(path: Path, ref: dict[str, Any]) -> None:
    """Write ``ref`` to the file ``path`` (no atomic swap: for a bundle folder still being assembled)."""
    path.write_text(_dumps(check_reference(ref, path)))


def write_reference(bundle_dir: str | Path, ref: dict[str, Any]) -> Path:
    """Write (or replace) ``reference.json`` of a bundle folder atomically; returns the file."""
    path = Path(bundle_dir) / REFERENCE_FILE
    write_text(path, _dumps(check_reference(ref, path)))
    return path


def read_reference(bundle_dir: str | Path) -> dict[str, Any] | None:
    """The bundle's reference, None when it has none; a damaged file is a TumorscopeError."""
    path = Path(bundle_dir) / REFERENCE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise TumorscopeError(f"cannot read the drift reference ({exc})", path) from exc
    try:
        ref = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TumorscopeError(f"damaged drift reference: not valid JSON ({exc})", path) from exc
    return check_reference(ref, path)


def reference_values(ref: Mapping[str, Any], feature: str) -> np.ndarray | None:
    """One feature's reference sample as an array (None when the reference lacks it)."""
    feat = ref.get("features", {}).get(feature)
    return None if feat is None else np.asarray(feat["values"], dtype=np.float64)


# ---- drift statistics -----------------------------------------------------------------------------------------
def psi(reference: Sequence[float] | np.ndarray, live: Sequence[float] | np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``live`` against ``reference``: sum over bins of (q - p) ln(q / p), with p
    and q the reference and live shares; an empty bin counts as ``PSI_EPSILON``. Bins are cut at the reference's
    deciles (``bins`` of equal reference mass); a cut value holding at least half a bin's share of the reference
    (a point mass: tumor fraction 0, probability 1.0, a saturated 99th percentile of 255) gets a bin of its own,
    so values just below it are not counted with it. Both samples are compared at ``SIGNIFICANT_DIGITS``.
    Hand-written: scipy and scikit-learn have no PSI, and the binning is the part that matters here."""
    if bins < 2:
        raise ValueError(f"psi needs at least 2 bins, got {bins}")
    ref, cur = round_values(reference), round_values(live)
    if not ref.size or not cur.size:
        raise ValueError("psi needs a non-empty reference and live sample")
    cuts = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    atomic = np.array([np.mean(ref == c) >= 0.5 / bins for c in cuts])

    def shares(x: np.ndarray) -> np.ndarray:  # bin 2i: (cut[i-1], cut[i]) (or up to cut[i] inclusive); 2i+1: cut[i]
        i = np.searchsorted(cuts, x, side="left")
        j = np.minimum(i, len(cuts) - 1)
        at_cut = (i < len(cuts)) & atomic[j] & (x == cuts[j])
        return np.maximum(np.bincount(2 * i + at_cut, minlength=2 * len(cuts) + 1) / x.size, PSI_EPSILON)

    p, q = shares(ref), shares(cur)
    return float(np.sum((q - p) * np.log(q / p)))


def ks(reference: Sequence[float] | np.ndarray, live: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample Kolmogorov-Smirnov test (scipy.stats.ks_2samp), both samples at
    ``SIGNIFICANT_DIGITS``."""
    from scipy.stats import ks_2samp

    res = ks_2samp(round_values(reference), round_values(live))
    return float(res.statistic), float(res.pvalue)
