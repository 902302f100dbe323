"""Training a 2-D / 2.5-D segmentation network on slices, validated by per-patient volumetric Dice."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.losses import DiceCELoss, DiceFocalLoss, DiceLoss, FocalLoss

from tumorscope.atomic import write_json
from tumorscope.bundle import save_bundle
from tumorscope.data.volumes import SliceStack, load_stacks
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.segmentation import evaluate_stacks, summarize
from tumorscope.models import build_model
from tumorscope.models.precision import autocast
from tumorscope.models.registry import MODELS
from tumorscope.predict.postprocess import PostProcess
from tumorscope.preprocess.augment import BatchAugment
from tumorscope.preprocess.channels import select_channels
from tumorscope.preprocess.pipeline import Preprocessor, resize
from tumorscope.train.config import TrainConfig
from tumorscope.train.data_split import split_for_run
from tumorscope.train.loop import WeightAverage, fit, start_run

log = logging.getLogger(__name__)

LOSSES = {
    "dice": lambda: DiceLoss(sigmoid=True, batch=True),
    "dicece": lambda: DiceCELoss(sigmoid=True, batch=True),
    "focal": lambda: FocalLoss(gamma=2.0),
    "dicefocal": lambda: DiceFocalLoss(sigmoid=True, batch=True, gamma=2.0),
}


def preprocessor_for(cfg: TrainConfig) -> Preprocessor:
    return Preprocessor(
        channels=cfg.channels, normalization=cfg.normalization, enhancement=cfg.enhancement,
        size=(cfg.size, cfg.size), context=1 if cfg.model == "unet25d" else 0,
    )


def tensors(stacks: list[SliceStack], pre: Preprocessor) -> tuple[torch.Tensor, torch.Tensor]:
    """All slices as network-sized (N, C, S, S) inputs and (N, 1, S, S) binary float targets."""
    xs, ys = [], []
    for s in stacks:
        xs.append(pre.tensor(s.images))
        m = torch.from_numpy(s.require_masks()[:, None].astype(np.float32))
        ys.append((resize(m, pre.size, mode="area") >= 0.5).float())
    return torch.cat(xs), torch.cat(ys)


def train_segmentation(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train, keep the best epoch by validation Dice, write the bundle; with ``cfg.fold`` also score the
    held-out test patients (never seen during training or model selection). 3-D models train on patches
    of whole volumes (tumorscope.train.volumetric)."""
    if cfg.mixup or cfg.label_smoothing or cfg.augment == "strong" or cfg.crop != "none":
        raise TumorscopeError("--mixup, --label-smoothing, --crop and --augment strong are classification options")
    spec = MODELS.get(cfg.model)
    if spec is not None and spec.spatial_dims == 3:
        from tumorscope.train.volumetric import train_volumetric

        return train_volumetric(cfg, resume=resume)
    run = start_run(cfg)
    parts = split_for_run(cfg, run)
    pre = preprocessor_for(cfg)
    stacks = {name: load_stacks(samples, desc=f"reading {name}") for name, samples in parts.items() if samples}
    if cfg.channels == "all":
        pre.expected_channels = select_channels(stacks["train"][0].images[:1], "all").shape[-1]
    x_train, y_train = tensors(stacks["train"], pre)
    in_channels = int(x_train.shape[1])
    log.info(
        "training on %d slices of %d volumes; validating on %d volumes",
        len(x_train), len(stacks["train"]), len(stacks.get("val", [])),
    )
    model = build_model(cfg.model, in_channels, 1, width=cfg.width)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    average = WeightAverage(model, cfg.ema)
    loss_fn = LOSSES[cfg.loss]()
    augment = BatchAugment(cfg.augment, seed=cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)

    def train_epoch(epoch: int) -> dict[str, float]:
        from tumorscope.progress import progress

        order = torch.randperm(len(x_train), generator=gen)
        batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        total = 0.0
        for idx in progress(batches, desc=f"epoch {epoch}", total=len(batches)):
            xb, yb = augment(x_train[idx], y_train[idx])
            with autocast(cfg.bf16):
                logits = model(xb)
            loss = loss_fn(logits.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            average.step()
            total += float(loss.detach()) * len(idx)
        return {"loss": total / len(x_train)}

    def validate() -> dict[str, float]:
        return validation_row(average.scored, pre, stacks["val"], cfg.bf16)

    result = fit(model, opt, sched, train_epoch, validate, run, cfg.epochs, cfg.patience, cfg.time_limit, resume,
                 average=average, bf16=cfg.bf16, generators=(gen, augment.generator))
    post = tune_postprocess(model, pre, stacks["val"], cfg.bf16, run)
    save_bundle(run / "bundle", model, bundle_config(cfg, run, pre, post, in_channels, result))
    summary = {k: v for k, v in result.items() if k != "history"} | {"postprocessing": post.to_dict()}
    val = summarize(evaluate_stacks(model, pre, post, stacks["val"], bf16=cfg.bf16, show_progress=False))
    write_json(run / "val_metrics.json", val)  # selection data: optimistic by construction
    if stacks.get("test"):
        test = summarize(evaluate_stacks(model, pre, post, stacks["test"], bf16=cfg.bf16))
        write_json(run / "test_metrics.json", test)
        summary["test_dice_mean"] = test["dice_mean"]
    write_json(run / "train_summary.json", summary)
    return summary


def validation_row(
    model: torch.nn.Module, pre: Preprocessor, val: list[SliceStack], bf16: bool, **evaluate: Any
) -> dict[str, float]:
    """One epoch's validation metrics (plain post-processing); ``score``, which picks the best epoch, is the
    mean per-patient Dice. ``evaluate``: extra options of ``evaluate_stacks`` (e.g. the 3-D ``window``)."""
    res = summarize(evaluate_stacks(model, pre, PostProcess(), val, bf16=bf16, show_progress=False, **evaluate), n_boot=10)
    return {"score": res["dice_mean"], "dice": res["dice_mean"], "slice_specificity": res["slice_specificity"],
            "slice_sensitivity": res["slice_sensitivity"]}


def bundle_config(
    cfg: TrainConfig, run: Path, pre: Preprocessor, post: PostProcess, in_channels: int, result: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """The config.json of a segmentation bundle (``extra``: e.g. the 3-D sliding-window settings)."""
    return {
        "name": run.name,
        "task": "segmentation",
        "classes": ["tumor"],
        "model": {"name": cfg.model, "in_channels": in_channels, "out_channels": 1, "options": {"width": cfg.width}},
        "preprocessing": pre.to_dict(),
        "postprocessing": post.to_dict(),
        **extra,
        "training": {k: v for k, v in result.items() if k != "history"} | {"config": cfg.to_dict()},
    }


def tune_postprocess(
    model: torch.nn.Module, pre: Preprocessor, val: list[SliceStack], bf16: bool, run: Path | None = None
) -> PostProcess:
    """Choose threshold, min component size and flip TTA on the VALIDATION patients (never the test fold);
    the whole search table goes to ``run/postprocess_search.json``."""
    from tumorscope.predict.segmentation import predict_probabilities

    probs = {tta: [predict_probabilities(model, pre, s.images, tta=tta, bf16=bf16) for s in val] for tta in (False, True)}
    scores = postprocess_scores(val, probs)
    if run is not None:
        rows = [{"tta": k[0], "threshold": k[1], "min_size": k[2], "val_dice": v} for k, v in scores.items()]
        write_json(run / "postprocess_search.json", {"n_val_volumes": len(val), "candidates": rows})
    return best_postprocess(scores)


def postprocess_scores(
    val: list[SliceStack], probs: list[np.ndarray] | dict[bool, list[np.ndarray]]
) -> dict[tuple[bool, float, int], float]:
    """Mean validation Dice of every (tta, threshold, min_size) candidate; ``probs`` are the validation
    probability maps, or ``{tta: maps}`` to include flip TTA."""
    from tumorscope.evaluate.overlap import dice

    by_tta = probs if isinstance(probs, dict) else {False: probs}
    truths = [s.require_masks() for s in val]
    scores: dict[tuple[bool, float, int], float] = {}
    for tta, maps in by_tta.items():
        for threshold in (0.3, 0.4, 0.5, 0.6):
            for min_size in (0, 50, 150, 400):
                cand = PostProcess(threshold=threshold, min_size=min_size, tta=tta)
                scores[(tta, threshold, min_size)] = float(np.mean([dice(cand(p), t) for p, t in zip(maps, truths)]))
    return scores


def best_postprocess(scores: dict[tuple[bool, float, int], float]) -> PostProcess:
    """The best candidate, if it beats the plain default (no TTA, 0.5, no removal) by 0.002 Dice."""
    default = scores[(False, 0.5, 0)]
    key = max(scores, key=lambda k: scores[k])
    if scores[key] < default + 0.002:
        key = (False, 0.5, 0)
    log.info("post-processing: default validation Dice %.4f; chosen tta=%s threshold=%.1f min_size=%d: %.4f",
             default, key[0], key[1], key[2], scores[key])
    return PostProcess(threshold=key[1], min_size=key[2], tta=key[0])


def choose_postprocess(val: list[SliceStack], probs: list[np.ndarray] | dict[bool, list[np.ndarray]]) -> PostProcess:
    """The best post-processing for these validation probability maps."""
    return best_postprocess(postprocess_scores(val, probs))
