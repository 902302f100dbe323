"""The baselines a federated run is compared with, trained by the same site trainer for the same number of
epochs (rounds x local epochs) and scored on the same held-out patients (a simulation's ``splits.json``):
``centralised`` pools every site's training patients; ``local`` trains each site alone."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import write_json
from tumorscope.data.dataset import load_dataset
from tumorscope.data.sample import Sample
from tumorscope.data.splits import load_splits, select
from tumorscope.data.volumes import SliceStack, load_stacks
from tumorscope.options import TrainConfig
from tumorscope.train.federated_local import SiteTrainer, save_global, score
from tumorscope.train.federated_sites import sites

log = logging.getLogger(__name__)
MODES = ("centralised", "local")


def train_and_score(cfg: TrainConfig, samples: list[Sample], test: list[SliceStack], epochs: int,
                    out: Path) -> dict[str, Any]:
    """Train on ``samples`` for ``epochs``, bundle the model in ``out`` and score it on ``test``."""
    t0 = time.monotonic()
    trainer = SiteTrainer(cfg, load_stacks(samples, desc=f"reading {out.name}"))
    loss = trainer.train_epochs(epochs)
    seconds = time.monotonic() - t0
    save_global(out, cfg, trainer.model, trainer.in_channels, {"epochs": epochs, "final_loss": loss})
    metrics = score(trainer.model, cfg, test, trainer.in_channels) | {
        "training": {"epochs": epochs, "patients": len({s.patient_id for s in samples}), "slices": trainer.examples,
                     "final_loss": loss, "train_seconds": seconds}}
    write_json(out / "metrics.json", metrics)
    return metrics


def baseline(cfg: TrainConfig, splits: str | Path, mode: str, epochs: int, min_site_patients: int = 1,
             only: list[str] | None = None) -> dict[str, Any]:
    """``centralised``: one model on all training patients; ``local``: one per site (``only``: these sites),
    each in ``cfg.out/SITE``; summary.json holds the mean over sites and each site's held-out Dice."""
    out = Path(cfg.out)
    ds = load_dataset(cfg.data)
    split = load_splits(splits)[0]
    test = load_stacks(select(ds, split, "test"), desc="reading held-out patients")
    train = select(ds, split, "train")
    if mode == "centralised":
        metrics = train_and_score(cfg, train, test, epochs, out)
        return {"mode": mode, "dice_mean": metrics["dice_mean"], "training": metrics["training"]}
    per_site = {}
    for code, samples in sites(train, min_site_patients).items():
        if only and code not in only:
            continue
        m = train_and_score(cfg, samples, test, epochs, out / code)
        per_site[code] = {"dice_mean": m["dice_mean"], **m["training"]}
        log.info("site %s alone: held-out Dice %.4f", code, m["dice_mean"])
    summary = {"mode": mode, "dice_mean_over_sites": float(np.mean([v["dice_mean"] for v in per_site.values()])),
               "sites": per_site}
    write_json(out / "summary.json", summary)
    return summary
