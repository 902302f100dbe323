"""The split a bundle was trained with, rebuilt from its recorded training options (the same code and seed
that made it), so later steps can use its validation images: the drift reference (``scripts/zoo_reference.py``)
and the verification of exported variants (``tumorscope export``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def training_options(config: dict[str, Any]) -> dict[str, Any]:
    """The training options of a bundle (of its first member for an ensemble: members share their split)."""
    training = config["training"]
    return training["config"] if "config" in training else training["members"][0]["config"]


def training_facts(config: dict[str, Any]) -> dict[str, Any]:
    training = config["training"]
    return training if "config" in training else training["members"][0]


def rebuild_split(config: dict[str, Any], data: Path) -> tuple[Any, dict[str, list[Any]], str]:
    """(dataset, samples per part, how the split was made) as the bundle's training run made them."""
    from tumorscope.data.dataset import load_dataset
    from tumorscope.data.dedup import training_dedup
    from tumorscope.data.splits import PARTS, kfold, make_split, select

    opts = training_options(config)
    ds = load_dataset(data)
    if config["task"] == "classification" and opts.get("dedup", True):
        ds = training_dedup(ds).dataset
    if opts.get("splits"):  # lgg-flair-seg's file: `tumorscope datasets split DIR --test 0` (its card), defaults
        split = make_split(ds, val=0.15, test=0.0, seed=0)
        how = f"`tumorscope datasets split --test 0` (val 0.15, seed 0) for {opts['splits']}"
    elif opts.get("fold") is not None:
        split = kfold(ds, k=opts["folds"], seed=opts["seed"], val=opts["val_fraction"])[opts["fold"]]
        how = f"fold {opts['fold']} of the {opts['folds']}-fold split (seed {opts['seed']})"
    else:
        split = make_split(ds, val=opts["val_fraction"], test=0.0, seed=opts["seed"])
        how = f"the train/validation split (val {opts['val_fraction']}, seed {opts['seed']})"
    return ds, {p: select(ds, split, p) for p in PARTS}, how
