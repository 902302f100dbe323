"""Seeded, stratified, grouped train/val/test splits and k-folds, and their ``splits.json``.

A group (``Sample.group``: the patient when known, else the image) never straddles two parts.
Groups are stratified by the set of labels they hold (for LGG slices: ``no_tumor+tumor`` for a patient
with tumor slices, ``no_tumor`` for one without), using scikit-learn's ``StratifiedGroupKFold``.
Images are keyed by their path relative to the dataset root, so a split outlives a moved dataset.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tumorscope.atomic import write_json
from tumorscope.data.dataset import Dataset
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError

PARTS = ("train", "val", "test")
_BINS = 20  # a hold-out split is cut from this many stratified folds: fractions in steps of 5 %
_FORMAT = "tumorscope-splits"


@dataclass(frozen=True)
class Split:
    """One partition of a dataset: per part (train/val/test), its group ids and image keys, sorted.

    ``fold`` is the index within a k-fold, None for a single hold-out split.
    """

    groups: dict[str, tuple[str, ...]]
    images: dict[str, tuple[str, ...]]
    seed: int
    fold: int | None = None


def image_key(sample: Sample, root: Path | None = None) -> str:
    """The image's path relative to ``root`` (POSIX style), or the path itself when outside it."""
    if root is not None:
        if sample.image.is_relative_to(root):
            return sample.image.relative_to(root).as_posix()
        image, base = sample.image.resolve(), root.resolve()  # e.g. a relative root, or a symlink
        if image.is_relative_to(base):
            return image.relative_to(base).as_posix()
    return sample.image.as_posix()


def group_key(sample: Sample, root: Path | None = None) -> str:
    """The patient id, or the image key for data without patients."""
    return sample.patient_id if sample.patient_id is not None else image_key(sample, root)


def make_split(
    data: Dataset | Sequence[Sample],
    val: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    root: str | Path | None = None,
) -> Split:
    """A grouped, stratified hold-out split with about ``val`` and ``test`` of the groups in val and test."""
    samples, base = _unpack(data, root)
    return _split(samples, base, _partition(samples, base, val, test, seed), seed, None)


def kfold(
    data: Dataset | Sequence[Sample],
    k: int = 5,
    seed: int = 0,
    val: float = 0.0,
    root: str | Path | None = None,
) -> list[Split]:
    """``k`` grouped, stratified folds: fold ``i`` tests on the i-th group fold and trains on the rest.

    With ``val > 0`` about that fraction of all groups is moved from each fold's training part to val.
    """
    if k < 2:
        raise TumorscopeError(f"k-fold needs k >= 2, got k={k}")
    if not 0 <= val < 1 - 1 / k:
        raise TumorscopeError(f"val fraction must be in [0, {1 - 1 / k:g}) with k={k}, got {val}")
    samples, base = _unpack(data, root)
    folds = _folds(samples, base, k, seed)
    splits = []
    for i, test_groups in enumerate(folds):
        rest = [s for s in samples if group_key(s, base) not in test_groups]
        parts = _partition(rest, base, val * k / (k - 1), 0.0, seed + i)
        parts["test"] = test_groups
        splits.append(_split(samples, base, parts, seed, i))
    return splits


def select(
    data: Dataset | Sequence[Sample], split: Split, part: str, root: str | Path | None = None
) -> list[Sample]:
    """The samples of one part of ``split``, in dataset order; fails if the split names unknown images."""
    if part not in PARTS:
        raise TumorscopeError(f"unknown split part {part!r} (choose from {', '.join(PARTS)})")
    samples, base = _unpack(data, root)
    wanted = set(split.images[part])
    chosen = [s for s in samples if image_key(s, base) in wanted]
    missing = sorted(wanted - {image_key(s, base) for s in chosen})
    if missing:
        raise TumorscopeError(
            f"the split lists {len(missing)} {part} image(s) that this dataset lacks, e.g. {missing[0]!r} "
            "(was it made for another dataset or root?)"
        )
    return chosen


def save_splits(path: str | Path, splits: Split | Sequence[Split], made_by: str | None = None) -> None:
    """Write ``splits.json`` atomically: seed, k, and per fold the group ids and image keys of each part;
    ``made_by``: the command that made it (model cards print it before the runs that read the file)."""
    folds = [splits] if isinstance(splits, Split) else list(splits)
    if not folds:
        raise ValueError("no splits to save")
    write_json(
        path,
        {
            "format": _FORMAT,
            "version": 1,
            "kind": "holdout" if folds[0].fold is None else "kfold",
            **({"made_by": made_by} if made_by else {}),
            "seed": folds[0].seed,
            "k": len(folds),
            "folds": [
                {
                    "fold": s.fold,
                    **{p: {"groups": list(s.groups[p]), "images": list(s.images[p])} for p in PARTS},
                }
                for s in folds
            ],
        },
    )


def load_splits(path: str | Path) -> list[Split]:
    """Read a ``splits.json`` written by :func:`save_splits` (one Split per fold)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != _FORMAT:
            raise ValueError("not a tumorscope splits file")
        return [
            Split(
                groups={p: tuple(str(g) for g in fold[p]["groups"]) for p in PARTS},
                images={p: tuple(str(i) for i in fold[p]["images"]) for p in PARTS},
                seed=int(doc["seed"]),
                fold=fold["fold"],
            )
            for fold in doc["folds"]
        ]
    except FileNotFoundError as exc:
        raise TumorscopeError("no such splits file", path) from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TumorscopeError(f"cannot read splits ({type(exc).__name__}: {exc})", path) from exc


def _unpack(data: Dataset | Sequence[Sample], root: str | Path | None) -> tuple[list[Sample], Path | None]:
    if isinstance(data, Dataset):
        return data.samples, Path(root) if root is not None else data.root
    return list(data), Path(root) if root is not None else None


def _groups(samples: Sequence[Sample], root: Path | None) -> set[str]:
    return {group_key(s, root) for s in samples}


def _strata(samples: Sequence[Sample], root: Path | None) -> dict[str, str]:
    """Group id -> the sorted set of labels its samples carry, joined with ``+`` (``-`` for no label)."""
    labels: dict[str, set[str]] = {}
    for s in samples:
        labels.setdefault(group_key(s, root), set()).add(s.label if s.label is not None else "-")
    return {g: "+".join(sorted(ls)) for g, ls in labels.items()}


def _folds(samples: Sequence[Sample], root: Path | None, n: int, seed: int) -> list[set[str]]:
    """The group ids of each of ``n`` stratified group folds (deterministic for a seed)."""
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    ordered = sorted(samples, key=lambda s: image_key(s, root))
    groups = [group_key(s, root) for s in ordered]
    strata = _strata(ordered, root)
    if len(strata) < n:
        raise TumorscopeError(f"cannot cut {n} folds from {len(strata)} group(s) (patients, else images)")
    size = Counter(strata.values())
    y = [strata[g] if size[strata[g]] >= n else "~rare" for g in groups]  # too small to spread: pool them
    cv = StratifiedGroupKFold(n_splits=n, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # "least populated class": counted in samples, not groups
        return [{groups[i] for i in idx} for _, idx in cv.split(np.zeros(len(y)), y, groups)]


def _partition(
    samples: Sequence[Sample], root: Path | None, val: float, test: float, seed: int
) -> dict[str, set[str]]:
    """Group ids per part for a hold-out split with about the given val and test fractions of groups."""
    for name, f in (("val", val), ("test", test)):
        if not 0 <= f < 1:
            raise TumorscopeError(f"{name} fraction must be in [0, 1), got {f}")
    groups = _groups(samples, root)
    if val == test == 0:
        return {"train": groups}
    n = min(_BINS, len(groups))
    n_test, n_val = (0 if f == 0 else max(1, round(f * n)) for f in (test, val))
    if n_test + n_val >= n:
        raise TumorscopeError(
            f"{len(groups)} group(s) are too few for val={val:g} and test={test:g}: no training data"
        )
    folds = _folds(samples, root, n, seed)
    return {
        "test": set().union(*folds[:n_test]),
        "val": set().union(*folds[n_test : n_test + n_val]),
        "train": set().union(*folds[n_test + n_val :]),
    }


def _split(
    samples: Sequence[Sample], root: Path | None, parts: dict[str, set[str]], seed: int, fold: int | None
) -> Split:
    images: dict[str, list[str]] = {p: [] for p in PARTS}
    where = {g: p for p, gs in parts.items() for g in gs}
    for s in samples:
        part = where.get(group_key(s, root))
        if part is not None:
            images[part].append(image_key(s, root))
    return Split(
        groups={p: tuple(sorted(parts.get(p, ()))) for p in PARTS},
        images={p: tuple(sorted(images[p])) for p in PARTS},
        seed=seed,
        fold=fold,
    )


def split_command(path: str | Path) -> str | None:
    """The command that made the splits file at ``path``, if it was recorded (``tumorscope datasets split``)."""
    try:
        return json.loads(Path(path).read_text()).get("made_by")
    except (OSError, ValueError, AttributeError):
        return None
