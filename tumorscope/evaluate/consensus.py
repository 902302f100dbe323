"""Consensus of several readers' masks and how much the readers agree.

:func:`staple` (SimpleITK's STAPLE: Warfield et al. 2004, expectation-maximisation of each reader's
sensitivity and specificity), :func:`majority` (a voxel is in when at least a fraction of readers marked
it), :func:`pairwise_dice` between readers and :func:`fleiss_kappa` for categorical decisions
(accept/reject/correct). :func:`consensus_report` joins them into a :class:`ConsensusReport`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.io.mask import is_binary
from tumorscope.predict.overlap import dice

DEFAULT_MAX_ITERATIONS = 500


def _name(names: Sequence[str | Path] | None, i: int) -> str:
    return str(names[i]) if names is not None else f"reader {i + 1}"


def check_masks(masks: Sequence[np.ndarray], names: Sequence[str | Path] | None = None) -> list[np.ndarray]:
    """The readers' masks as bool arrays, after checking there are at least two, each 2-D or 3-D, binary
    (bool, or at most two values among 0, 1 and 255: the service's rule for corrected masks) and all of
    one shape. A problem is a TumorscopeError naming the reader's file (``names``) when given."""
    if names is not None and len(names) != len(masks):
        raise ValueError(f"{len(names)} names for {len(masks)} masks")
    if len(masks) < 2:
        raise TumorscopeError(f"consensus needs the masks of at least 2 readers, got {len(masks)}")
    out: list[np.ndarray] = []
    for i, m in enumerate(masks):
        arr = np.asarray(m)
        where = names[i] if names is not None else None
        label = "" if where is not None else f"{_name(names, i)}: "
        if arr.ndim not in (2, 3):
            raise TumorscopeError(f"{label}a mask must be 2-D or 3-D, got shape {arr.shape}", where)
        if arr.dtype != np.bool_:
            values = np.unique(arr)
            if not is_binary(values):
                shown = ", ".join(f"{v:g}" for v in values[:5].tolist()) + (", ..." if values.size > 5 else "")
                raise TumorscopeError(f"{label}a mask must be binary (0/1 or 0/255), found values {shown}", where)
        if out and arr.shape != out[0].shape:
            raise TumorscopeError(f"{label}mask shape {arr.shape} differs from {_name(names, 0)}'s {out[0].shape}",
                                  where)
        out.append(arr > 0)
    return out


@dataclass(frozen=True)
class StapleResult:
    """STAPLE's estimate: the consensus mask (probability >= threshold), the probability of each voxel
    being foreground, each reader's sensitivity and specificity against it, and EM iterations run."""

    mask: np.ndarray
    probability: np.ndarray
    sensitivity: tuple[float, ...]
    specificity: tuple[float, ...]
    iterations: int


def staple(masks: Sequence[np.ndarray], threshold: float = 0.5, max_iterations: int = DEFAULT_MAX_ITERATIONS,
           names: Sequence[str | Path] | None = None) -> StapleResult:
    """STAPLE consensus of binary masks of one shape (SimpleITK's STAPLEImageFilter, foreground value 1,
    confidence weight 1). EM stops at convergence or after ``max_iterations`` (ITK's own default is
    unlimited). When no reader marks any voxel the consensus is empty, sensitivities are NaN (nothing to
    detect) and specificities 1 (ITK would answer NaN everywhere)."""
    from tumorscope.io.itk import sitk

    if not 0.0 < threshold <= 1.0:
        raise TumorscopeError(f"the STAPLE threshold must be in (0, 1], got {threshold}")
    if max_iterations < 1:
        raise TumorscopeError(f"max_iterations must be at least 1, got {max_iterations}")
    readers = check_masks(masks, names)
    n = len(readers)
    if not any(m.any() for m in readers):
        zeros = np.zeros(readers[0].shape, np.float32)
        return StapleResult(zeros > 0, zeros, (math.nan,) * n, (1.0,) * n, 0)
    f = sitk.STAPLEImageFilter()
    f.SetForegroundValue(1.0)
    f.SetConfidenceWeight(1.0)
    f.SetMaximumIterations(int(max_iterations))
    prob = sitk.GetArrayFromImage(f.Execute([sitk.GetImageFromArray(m.astype(np.uint8)) for m in readers]))
    prob = np.clip(prob, 0.0, 1.0).astype(np.float32)
    return StapleResult(prob >= threshold, prob, tuple(float(s) for s in f.GetSensitivity()),
                        tuple(float(s) for s in f.GetSpecificity()), int(f.GetElapsedIterations()))


def majority(masks: Sequence[np.ndarray], fraction: float = 0.5,
             names: Sequence[str | Path] | None = None) -> np.ndarray:
    """Voxels marked by at least ``fraction`` of the readers (0.5 with two readers is their union)."""
    if not 0.0 < fraction <= 1.0:
        raise TumorscopeError(f"the majority fraction must be in (0, 1], got {fraction}")
    readers = check_masks(masks, names)
    votes = np.asarray(np.sum(readers, axis=0, dtype=np.int32))
    # compare counts, not a float mean: 2 of 4 readers is exactly 0.5
    return np.asarray(votes >= math.ceil(fraction * len(readers) - 1e-9))


@dataclass(frozen=True)
class PairwiseDice:
    """Dice between every two readers (``matrix[i][j]``, 1 on the diagonal) and over the pairs i < j."""

    matrix: list[list[float]]
    mean: float
    min: float
    pairs: list[float]


def pairwise_dice(masks: Sequence[np.ndarray], names: Sequence[str | Path] | None = None) -> PairwiseDice:
    """Dice of every pair of readers (two empty masks agree: Dice 1)."""
    readers = check_masks(masks, names)
    n = len(readers)
    matrix = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i, j] = matrix[j, i] = dice(readers[i], readers[j])
    pairs = [float(matrix[i, j]) for i in range(n) for j in range(i + 1, n)]
    return PairwiseDice(matrix.tolist(), float(np.mean(pairs)), float(np.min(pairs)), pairs)


def category_counts(ratings: Sequence[Sequence[Hashable]], categories: Sequence[Hashable] | None = None
                    ) -> tuple[np.ndarray, list[Hashable]]:
    """Per subject, how many raters chose each category: ``(counts[subject, category], categories)`` from one
    list of decisions per subject (raters need not be the same people, nor as many, for every subject)."""
    cats = list(categories) if categories is not None else sorted({c for row in ratings for c in row}, key=str)
    index = {c: k for k, c in enumerate(cats)}
    counts = np.zeros((len(ratings), len(cats)), dtype=np.int64)
    for i, row in enumerate(ratings):
        for c in row:
            if c not in index:
                raise TumorscopeError(f"subject {i + 1}: decision {c!r} is not one of {cats}")
            counts[i, index[c]] += 1
    return counts, cats


def fleiss_kappa(counts: np.ndarray | Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa (Fleiss 1971) of a subjects x categories table of rater counts.

    Hand-written because statsmodels (which has it) is not a tumorscope dependency and this is a few lines.
    Subjects may have different numbers of raters (at least 2 each): P_i uses each subject's own n_i and the
    category proportions pool all ratings, which is Fleiss' formula exactly when every n_i is equal.
    NaN when chance agreement is 1 (every rating in one category: kappa is undefined).
    """
    table = np.asarray(counts, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 1:
        raise TumorscopeError(f"Fleiss' kappa needs a subjects x categories table, got shape {table.shape}")
    if (table < 0).any():
        raise TumorscopeError("Fleiss' kappa: rater counts cannot be negative")
    n_i = table.sum(axis=1)
    if (n_i < 2).any():
        raise TumorscopeError(f"Fleiss' kappa: subject {int(np.argmax(n_i < 2)) + 1} has fewer than 2 ratings")
    p_i = ((table**2).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_j = table.sum(axis=0) / n_i.sum()
    p_bar, p_e = float(p_i.mean()), float((p_j**2).sum())
    if p_e >= 1.0 - 1e-12:
        return math.nan
    return (p_bar - p_e) / (1.0 - p_e)


def _clean(obj: Any) -> Any:
    """NaN and infinities as JSON null, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def json_text(obj: Any) -> str:
    """Indented JSON with NaN written as null."""
    return json.dumps(_clean(obj), indent=2, allow_nan=False) + "\n"


@dataclass
class ConsensusReport:
    """What ``tumorscope consensus`` reports about one set of readers' masks (JSON via :meth:`to_dict`)."""

    readers: list[str]
    shape: list[int]
    staple_threshold: float
    staple_iterations: int
    staple_sensitivity: list[float]
    staple_specificity: list[float]
    reader_dice_vs_staple: list[float]
    pairwise_dice: PairwiseDice
    majority_fraction: float
    staple_vs_majority_dice: float
    staple_voxels: int
    majority_voxels: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; undefined numbers (NaN) become null."""
        out = asdict(self)
        extra = out.pop("extra")
        return _clean({**out, **extra})

    def to_json(self) -> str:
        return json_text(self.to_dict())


def consensus_report(masks: Sequence[np.ndarray], names: Sequence[str | Path] | None = None,
                     threshold: float = 0.5, fraction: float = 0.5,
                     max_iterations: int = DEFAULT_MAX_ITERATIONS) -> tuple[ConsensusReport, StapleResult, np.ndarray]:
    """STAPLE, the majority mask and the readers' agreement: ``(report, staple result, majority mask)``."""
    readers = check_masks(masks, names)
    labels = [str(n) for n in names] if names is not None else [_name(None, i) for i in range(len(readers))]
    est = staple(readers, threshold, max_iterations)
    vote = majority(readers, fraction)
    report = ConsensusReport(
        readers=labels, shape=list(readers[0].shape), staple_threshold=threshold,
        staple_iterations=est.iterations, staple_sensitivity=list(est.sensitivity),
        staple_specificity=list(est.specificity),
        reader_dice_vs_staple=[dice(m, est.mask) for m in readers], pairwise_dice=pairwise_dice(readers),
        majority_fraction=fraction, staple_vs_majority_dice=dice(est.mask, vote),
        staple_voxels=int(est.mask.sum()), majority_voxels=int(vote.sum()),
    )
    return report, est, vote
