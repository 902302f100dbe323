"""Training a 3-D U-Net on random patches of whole volumes, validated by per-volume Dice (sliding window).

The recipe follows nnU-Net, kept small for a CPU:

* a *plan* from the training volumes' fingerprint (median shape and spacing) fixes the patch and batch size
  (:func:`tumorscope.predict.volumetric.make_plan`); volumes stay at their own spacing (no resampling);
* every volume is normalised as a whole by the same Preprocessor as the 2-D path;
* an epoch draws ``PATCHES_PER_VOLUME`` patches per training volume; the last third of each batch (rounded,
  so 1 of 2 as in nnU-Net) is centred on a random tumor voxel, the rest lie anywhere; volumes smaller than
  the patch are zero-padded; sampling is seeded per epoch, so ``--resume`` continues the same sequence;
* augmentation: random flips along each axis and an intensity gain; gradient norm clipped at 12;
* validation runs the whole volume with ``sliding_window_inference`` exactly as predict does.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from tumorscope.atomic import write_json
from tumorscope.bundle import save_bundle
from tumorscope.data.volumes import load_stacks
from tumorscope.evaluate.segmentation import evaluate_stacks, summarize
from tumorscope.models import build_model
from tumorscope.models.precision import autocast
from tumorscope.predict.volumetric import (
    SlidingWindow,
    as_volume,
    make_plan,
    predict_stack,
    volume_tensor,
)
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.train.config import TrainConfig
from tumorscope.train.data_split import split_for_run
from tumorscope.train.loop import WeightAverage, fit, start_run

log = logging.getLogger(__name__)

PATCHES_PER_VOLUME = 4
FOREGROUND_FRACTION = 1 / 3
GRAD_CLIP = 12.0  # gradient-norm clipping, as nnU-Net


class PatchSampler:
    """Random (C, *patch) crops of normalised volumes with their (1, *patch) masks, foreground-biased."""

    def __init__(
        self, images: list[torch.Tensor], masks: list[np.ndarray], patch: tuple[int, int, int], seed: int = 0,
        foreground_fraction: float = FOREGROUND_FRACTION,
    ) -> None:
        self.patch = patch
        self.foreground_fraction = foreground_fraction
        self.rng = np.random.default_rng(seed)
        self.images, self.masks, self.foreground = [], [], []
        for x, m in zip(images, masks):
            pad = [max(0, p - s) for p, s in zip(patch, m.shape)]
            if any(pad):
                x = torch.nn.functional.pad(x, [v for p in reversed(pad) for v in (p // 2, p - p // 2)])
                m = np.pad(m, [(p // 2, p - p // 2) for p in pad])
            self.images.append(x)
            self.masks.append(torch.from_numpy(m[None].astype(np.float32)))
            self.foreground.append(np.argwhere(m))

    def __len__(self) -> int:
        return len(self.images)

    def crop(self, i: int, with_foreground: bool) -> tuple[torch.Tensor, torch.Tensor]:
        shape = self.masks[i].shape[1:]
        fg = self.foreground[i]
        if with_foreground and len(fg):
            centre = fg[self.rng.integers(len(fg))]
            start = [int(np.clip(c - p // 2, 0, s - p)) for c, p, s in zip(centre, self.patch, shape)]
        else:
            start = [int(self.rng.integers(0, s - p + 1)) for p, s in zip(self.patch, shape)]
        sl = tuple(slice(a, a + p) for a, p in zip(start, self.patch))
        return self.images[i][(slice(None), *sl)], self.masks[i][(slice(None), *sl)]

    def batches(self, n_patches: int, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``n_patches`` crops of random volumes in batches; the last ``foreground_fraction`` of each batch
        is centred on tumor (nnU-Net's forced-foreground share)."""
        out = []
        for start in range(0, n_patches, batch_size):
            n = min(batch_size, n_patches - start)
            n_fg = int(round(n * self.foreground_fraction))
            crops = [self.crop(int(self.rng.integers(len(self))), k >= n - n_fg) for k in range(n)]
            out.append((torch.stack([c[0] for c in crops]), torch.stack([c[1] for c in crops])))
        return out


def augment_patches(x: torch.Tensor, y: torch.Tensor, level: str, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random flips along Z, Y and X (image and mask together) and a +-15 % intensity gain."""
    if level == "none":
        return x, y
    for dim in (2, 3, 4):
        if torch.rand(1, generator=gen) < 0.5:
            x, y = x.flip(dim), y.flip(dim)
    gain = torch.where(torch.rand(len(x), generator=gen) < 0.3, 0.85 + 0.3 * torch.rand(len(x), generator=gen), 1.0)
    return x * gain.view(-1, 1, 1, 1, 1), y


def train_volumetric(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train a 3-D model (``cfg.model`` with spatial_dims 3); the run folder and bundle match the 2-D path,
    plus ``plan.json`` and the bundle's ``volumetric`` sliding-window settings."""
    from tumorscope.train.segmentation import LOSSES, bundle_config, choose_postprocess, validation_row

    run = start_run(cfg)
    parts = split_for_run(cfg, run)
    pre = Preprocessor(channels=cfg.channels, normalization=cfg.normalization, enhancement=cfg.enhancement)
    vols = {
        name: [as_volume(s) for s in load_stacks(samples, desc=f"reading {name}")]
        for name, samples in parts.items() if samples
    }
    plan = make_plan(vols["train"], max_edge=cfg.size, batch_size=cfg.batch_size)
    write_json(run / "plan.json", plan.to_dict())
    window = SlidingWindow(patch_size=plan.patch_size, sw_batch_size=plan.batch_size)
    sampler = PatchSampler(
        [volume_tensor(pre, v.images, v.samples[0].image if v.samples else None) for v in vols["train"]],
        [v.require_masks() for v in vols["train"]], plan.patch_size, seed=cfg.seed,
    )
    in_channels = int(sampler.images[0].shape[0])
    n_train = len(vols.pop("train"))  # the sampler holds the normalised copies
    log.info("3-D plan: patch %s, batch %d; %d training and %d validation volumes",
             plan.patch_size, plan.batch_size, n_train, len(vols["val"]))
    model = build_model(cfg.model, in_channels, 1, width=cfg.width)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    average = WeightAverage(model, cfg.ema)
    loss_fn = LOSSES[cfg.loss]()

    def train_epoch(epoch: int) -> dict[str, float]:
        from tumorscope.progress import progress

        sampler.rng = np.random.default_rng([cfg.seed, epoch])
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        batches = sampler.batches(PATCHES_PER_VOLUME * len(sampler), plan.batch_size)
        total, seen = 0.0, 0
        for xb, yb in progress(batches, desc=f"epoch {epoch}", total=len(batches)):
            xb, yb = augment_patches(xb, yb, cfg.augment, gen)
            with autocast(cfg.bf16):
                logits = model(xb)
            loss = loss_fn(logits.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
            opt.step()
            average.step()
            total, seen = total + float(loss.detach()) * len(xb), seen + len(xb)
        return {"loss": total / max(seen, 1)}

    def validate() -> dict[str, float]:
        return validation_row(average.scored, pre, vols["val"], cfg.bf16, window=window)

    result = fit(model, opt, sched, train_epoch, validate, run, cfg.epochs, cfg.patience, cfg.time_limit, resume,
                 average=average, bf16=cfg.bf16)
    val_probs = {tta: [predict_stack(model, pre, v, window, tta=tta, bf16=cfg.bf16)[1] for v in vols["val"]]
                 for tta in (False, True)}
    post = choose_postprocess(vols["val"], val_probs)
    volumetric = window.to_dict() | {"plan": plan.to_dict()}
    save_bundle(run / "bundle", model, bundle_config(cfg, run, pre, post, in_channels, result, volumetric=volumetric))
    summary = {k: v for k, v in result.items() if k != "history"} | {
        "postprocessing": post.to_dict(), "patch_size": list(plan.patch_size),
    }
    if vols.get("test"):
        test = summarize(evaluate_stacks(model, pre, post, vols["test"], bf16=cfg.bf16, window=window))
        write_json(run / "test_metrics.json", test)
        summary["test_dice_mean"] = test["dice_mean"]
    write_json(run / "train_summary.json", summary)
    return summary
