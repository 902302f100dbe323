"""Which samples a training run trains, validates and tests on (saved as the run's ``splits.json``)."""

from __future__ import annotations

from pathlib import Path

from tumorscope.data.dataset import Dataset, load_dataset
from tumorscope.data.sample import Sample
from tumorscope.data.splits import PARTS, Split, kfold, load_splits, make_split, save_splits, select
from tumorscope.errors import TumorscopeError
from tumorscope.options import TrainConfig


def split_for_run(cfg: TrainConfig, run: Path, dataset: Dataset | None = None,
                  allow_no_val: bool = False) -> dict[str, list[Sample]]:
    """Train/val(/test) samples for ``cfg``: from ``cfg.splits``, else CV fold ``cfg.fold`` of a patient-grouped
    k-fold (its test part never touches training or model selection), else a train/val split of everything.
    ``allow_no_val``: a trainer that can keep its last epoch accepts ``--val-fraction 0`` (no validation part)."""
    ds = dataset or load_dataset(cfg.data)
    split = choose_split(cfg, ds)
    parts = {p: select(ds, split, p) for p in PARTS}
    if not parts["val"]:  # carve validation patients out of training
        inner = make_split(parts["train"], val=cfg.val_fraction, test=0.0, seed=cfg.seed, root=ds.root)
        split = Split(
            groups={**split.groups, "train": inner.groups["train"], "val": inner.groups["val"]},
            images={**split.images, "train": inner.images["train"], "val": inner.images["val"]},
            seed=split.seed,
            fold=split.fold,
        )
        parts = {p: select(ds, split, p) for p in PARTS}
    if not parts["val"] and cfg.val_fraction == 0 and not allow_no_val:
        raise TumorscopeError(f"--val-fraction 0 (no validation part) is for classification only, not {cfg.task}")
    if not parts["train"] or not (parts["val"] or (allow_no_val and cfg.val_fraction == 0)):
        raise TumorscopeError("too few patients/images to make a training and a validation part", ds.root)
    save_splits(run / "splits.json", split)
    return parts


def choose_split(cfg: TrainConfig, ds: Dataset) -> Split:
    """The split ``cfg`` names: a splits file's fold, a k-fold's fold, else a train/val split without a test part."""
    if cfg.splits:
        splits = load_splits(cfg.splits)
        idx = cfg.fold or 0
        if idx >= len(splits):
            raise TumorscopeError(f"fold {idx} requested but the file holds {len(splits)} split(s)", cfg.splits)
        return splits[idx]
    if cfg.fold is not None:
        if not 0 <= cfg.fold < cfg.folds:
            raise TumorscopeError(f"--fold must be in 0..{cfg.folds - 1}, got {cfg.fold}")
        return kfold(ds, k=cfg.folds, seed=cfg.seed, val=cfg.val_fraction)[cfg.fold]
    return make_split(ds, val=cfg.val_fraction, test=0.0, seed=cfg.seed)
