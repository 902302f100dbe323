"""Training an image classifier: dedup -> grouped split -> (init / freeze) -> fit -> bundle -> held-out test.

Model selection uses the validation part only: score = (balanced accuracy + macro AUC) / 2, ties broken by the
validation log-loss; ``--keep last`` bundles the last epoch instead, and ``--val-fraction 0`` (no validation part)
always does.
With ``cfg.fold`` the fold's test part (never trained on, never used for selection) is scored into
``test_metrics.json``; ``tumorscope cv`` pools those over folds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tumorscope.atomic import write_json
from tumorscope.bundle import load_bundle, save_bundle
from tumorscope.data.dataset import Dataset, load_dataset
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.classification import calibration_bins, scalar_metrics
from tumorscope.models import build_model
from tumorscope.models.precision import autocast, channels_last, to_channels_last
from tumorscope.predict.classify import fingerprint, image_array, image_tensor, predict_tensors
from tumorscope.preprocess.augment import LEVELS
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.progress import progress
from tumorscope.train.batchnorm import recompute_batchnorm
from tumorscope.train.config import TrainConfig
from tumorscope.train.data_split import split_for_run
from tumorscope.train.dedup import Dedup, deduplicate, summary_counts
from tumorscope.train.loop import WeightAverage, fit, start_run
from tumorscope.train.transfer import load_init

log = logging.getLogger(__name__)

LOSSES = ("ce", "focal")
NEAR_THRESHOLD = 4  # bits, as the audit
TIE_BREAK = 1e-3  # weight of the validation log-loss in the selection score
IMBALANCE_RATIO = 2.0  # --sampler auto turns to class-balanced sampling at this largest/smallest class ratio


@dataclass
class Images:
    """Preprocessed images of one split part held in memory."""

    x: torch.Tensor  # (N, C, S, S)
    y: torch.Tensor  # (N,) class indices
    hashes: list[int]  # perceptual hash per image


def load_images(samples: list[Sample], pre: Preprocessor, classes: list[str], desc: str) -> Images:
    xs, hashes = [], []
    for s in progress(samples, desc=desc, total=len(samples)):
        a = image_array(s.image)
        xs.append(image_tensor(pre, a, s.image))
        hashes.append(fingerprint(a))
    y = torch.tensor([classes.index(str(s.label)) for s in samples])
    return Images(torch.stack(xs), y, hashes)


def selection_score(y: torch.Tensor, probs: np.ndarray) -> dict[str, float]:
    """The validation score that selects epochs (and inference options): (balanced accuracy + macro AUC) / 2,
    ties (common on small, easy validation parts where both saturate) going to the lower log-loss."""
    m = scalar_metrics(y.numpy(), probs)
    nll = float(F.nll_loss(torch.log(torch.from_numpy(probs).clamp(min=1e-8)), y))
    auc = m["auc_macro"] if np.isfinite(m["auc_macro"]) else 0.5
    return {"score": (m["balanced_accuracy"] + auc) / 2 - TIE_BREAK * nll, "loss": nll, "accuracy": m["accuracy"],
            "balanced_accuracy": m["balanced_accuracy"], "auc_macro": auc}


def validation_views(model: torch.nn.Module, images: Images) -> list[np.ndarray]:
    """The model's probabilities for the images and for their left-right mirrors (the two TTA views)."""
    return [predict_tensors(model, images.x), predict_tensors(model, images.x.flip(-1))]


def choose_tta(views: list[np.ndarray], y: torch.Tensor) -> dict[str, Any]:
    """Mirror test-time augmentation on or off (``views`` from validation_views), whichever scores higher on the
    validation images (off on a tie)."""
    scores = {tta: selection_score(y, np.mean(views if tta else views[:1], axis=0)) for tta in (False, True)}
    chosen = scores[True]["score"] > scores[False]["score"]
    log.info("mirror TTA on validation: off %.4f, on %.4f -> %s", scores[False]["score"], scores[True]["score"],
             "on" if chosen else "off")
    return {"tta": chosen, "validation": {"off": scores[False], "on": scores[True]}}


def scaled(views: list[np.ndarray], t: float) -> np.ndarray:
    """The mean over test-time views of softmax(log(p) / t): what a model with temperature t predicts."""
    return np.mean([torch.softmax(torch.log(torch.from_numpy(p).clamp(min=1e-8)) / t, dim=1).numpy()
                    for p in views], axis=0)


def fit_temperature(views: list[np.ndarray], y: np.ndarray) -> float:
    """The temperature T (0.2-5, log grid) minimising the validation log-loss of ``scaled(views, T)``."""
    grid = np.exp(np.linspace(np.log(0.2), np.log(5.0), 161))
    return float(min(grid, key=lambda t: -np.log(np.clip(scaled(views, t)[np.arange(len(y)), y], 1e-8, 1)).mean()))


def calibrate(views: list[np.ndarray], y: torch.Tensor) -> dict[str, Any]:
    """Temperature scaling (Guo et al. 2017) on the validation images' TTA ``views`` (the ones inference uses): the
    fitted T and the validation log-loss / ECE before and after. Accuracy is unchanged (T keeps each image's
    class ranking)."""
    t = fit_temperature(views, y.numpy())
    probs, calibrated = scaled(views, 1.0), scaled(views, t)
    before, after = selection_score(y, probs), selection_score(y, calibrated)
    validation = {"loss_before": before["loss"], "loss_after": after["loss"],
                  "ece_before": calibration_bins(y.numpy(), probs)[0],
                  "ece_after": calibration_bins(y.numpy(), calibrated)[0]}
    log.info("temperature scaling on validation: T = %.3f, log-loss %.4f -> %.4f, ECE %.3f -> %.3f", t,
             validation["loss_before"], validation["loss_after"], validation["ece_before"], validation["ece_after"])
    return {"temperature": t, "validation": validation}


def precise_batchnorm(model: torch.nn.Module, train: Images, val: Images | None, cfg: TrainConfig) -> dict[str, Any]:
    """Recompute the kept network's BatchNorm statistics on the un-augmented training images
    (:func:`~tumorscope.train.batchnorm.recompute_batchnorm`); returns the validation score before and after (the
    after one is reported, never used to undo the step: the best epoch was chosen on the same images)."""
    def score() -> dict[str, float] | None:
        return selection_score(val.y, predict_tensors(model, val.x, bf16=cfg.bf16)) if val is not None else None

    before = score()
    layers = recompute_batchnorm(model, train.x, cfg.batch_size, cfg.bf16)
    after = score()
    log.info("precise BatchNorm: %d layers recomputed on %d training images", layers, len(train.y))
    if before and after:
        log.info("validation score %.4f -> %.4f (accuracy %.4f -> %.4f)", before["score"], after["score"],
                 before["accuracy"], after["accuracy"])
    return {"layers": layers, "images": len(train.y), "validation_before": before, "validation_after": after}


def resolve_sampler(choice: str, y: torch.Tensor, k: int) -> str:
    """``auto`` -> ``balanced`` when the largest training class holds at least IMBALANCE_RATIO times the images
    of the smallest, else ``uniform``; ``uniform``/``balanced`` are kept. Measured on brain MRI with meningioma
    thinned to 20% (docs/classification.md): balanced sampling raised balanced accuracy 0.723 -> 0.805, more than
    class weights (0.762) or focal loss (0.739)."""
    if choice not in ("auto", "uniform", "balanced"):
        raise TumorscopeError(f"--sampler {choice!r}: choose auto, uniform or balanced")
    if choice != "auto":
        return choice
    counts = torch.bincount(y, minlength=k).float()
    return "balanced" if counts.max() >= IMBALANCE_RATIO * counts.clamp(min=1).min() else "uniform"


def loss_name(cfg: TrainConfig) -> str:
    """``ce`` or ``focal``; the segmentation default (``dicece``) means plain cross-entropy here."""
    if cfg.loss in LOSSES:
        return cfg.loss
    if cfg.loss == TrainConfig().loss:
        return "ce"
    raise TumorscopeError(f"--loss {cfg.loss!r} is not a classification loss: use {' or '.join(LOSSES)}")


def class_weights(y: torch.Tensor, k: int) -> torch.Tensor:
    """'balanced' weights n / (k * n_c), as scikit-learn's compute_class_weight."""
    counts = torch.bincount(y, minlength=k).float()
    return len(y) / (k * counts.clamp(min=1))


def focal_loss(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None, gamma: float = 2.0) -> torch.Tensor:
    """Multi-class focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_true)^gamma, class-weighted."""
    logp = F.log_softmax(logits, dim=1).gather(1, y[:, None])[:, 0]
    w = weight[y] if weight is not None else torch.ones_like(logp)
    return (-w * (1 - logp.exp()) ** gamma * logp).sum() / w.sum()


CLS_LEVELS = (*LEVELS, "strong")
# per level: probability of the affine, rotation (rad), relative scale, shift (px), probability of gamma
_AUG_RANGES = {"light": (0.5, 0.2, 0.1, 10, 0.0), "default": (0.6, 0.2, 0.1, 10, 0.3),
               "heavy": (0.6, 0.2, 0.1, 10, 0.3), "strong": (0.8, 0.35, 0.2, 16, 0.5)}


def batch_augment(x: torch.Tensor, level: str, gen: torch.Generator) -> torch.Tensor:
    """A whole (B, C, S, S) batch augmented at once, with these ranges:
    horizontal flip; affine (rotation +-0.2 rad, scale +-10%, shift +-10 px) with probability 0.6 (light: 0.5);
    gamma 0.8-1.25 with probability 0.3 (not light); heavy adds vertical flips and 90-degree rotations;
    strong widens the affine (probability 0.8, rotation +-0.35 rad, scale +-20%, shift +-16 px), raises gamma's
    probability to 0.5 and adds contrast (x0.8-1.25) and brightness (+-10% of the range) with probability 0.5.

    One vectorised call per batch instead of MONAI's per-image dictionary transforms, which on a CPU cost as
    much as the ResNet-18 forward and backward pass itself.
    """
    if level not in CLS_LEVELS:
        raise TumorscopeError(f"--augment {level!r}: choose from {', '.join(CLS_LEVELS)}")
    if level == "none":
        return x
    b, _, h, w = x.shape
    p_affine, rotation, scaling, shift_px, p_gamma = _AUG_RANGES[level]

    def coin(p: float) -> torch.Tensor:
        return torch.rand(b, generator=gen) < p

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(b, *shape, generator=gen)

    x = torch.where(coin(0.5)[:, None, None, None], x.flip(-1), x)
    if level == "heavy":
        x = torch.where(coin(0.5)[:, None, None, None], x.flip(-2), x)
        turns = torch.randint(0, 4, (b,), generator=gen) * coin(0.5)
        x = torch.stack([torch.rot90(xi, int(k), (-2, -1)) for xi, k in zip(x, turns)])
    on = coin(p_affine).float()
    angle, scale = uniform(-rotation, rotation) * on, 1 + uniform(-scaling, scaling) * on
    shift = uniform(-1, 1, 2) * torch.tensor([2 * shift_px / w, 2 * shift_px / h]) * on[:, None]  # [-1, 1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
    if p_gamma:
        gamma = torch.where(coin(p_gamma), torch.exp(uniform(np.log(0.8), np.log(1.25))), torch.ones(b))
        lo = x.amin(dim=(1, 2, 3), keepdim=True)
        rng = (x.amax(dim=(1, 2, 3), keepdim=True) - lo).clamp(min=1e-6)
        x = ((x - lo) / rng).clamp(min=0) ** gamma[:, None, None, None] * rng + lo
        if level == "strong":
            jitter = coin(0.5)
            contrast = torch.where(jitter, torch.exp(uniform(np.log(0.8), np.log(1.25))), torch.ones(b))
            brightness = torch.where(jitter, uniform(-0.1, 0.1), torch.zeros(b))
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * contrast[:, None, None, None] + mean + brightness[:, None, None, None] * rng
    return x


def mixup_batch(x: torch.Tensor, alpha: float, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mixup (Zhang et al. 2018): ``lam * x + (1 - lam) * x[perm]`` with lam ~ Beta(alpha, alpha); returns the
    mixed batch, the permutation and lam (the loss is mixed with the same weight)."""
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(len(x)))
    return lam * x + (1 - lam) * x[perm], perm, lam


def training_dedup(ds: Dataset) -> Dedup:
    """The deduplication classification training applies: its splits are made on ``.dataset``."""
    return deduplicate(ds, near_threshold=NEAR_THRESHOLD)


def _dataset(cfg: TrainConfig, run: Path) -> tuple[Dataset, dict[str, Any]]:
    ds = load_dataset(cfg.data)
    unlabelled = [s for s in ds.samples if s.label is None]
    if unlabelled:
        raise TumorscopeError(f"{len(unlabelled)} image(s) have no class label (e.g. {unlabelled[0].image})", ds.root)
    if len(ds.classes) < 2:
        raise TumorscopeError(f"classification needs at least 2 classes, found {list(ds.classes)}", ds.root)
    if not cfg.dedup:
        return ds, {"enabled": False, "n_images_before": len(ds), "n_images_after": len(ds)}
    d = training_dedup(ds)
    write_json(run / "dedup.json", d.report)
    return d.dataset, summary_counts(d.report)


def train_classification(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train, keep the best epoch by validation score, write ``bundle/``; with a test part (``cfg.fold``)
    score it into ``test_metrics.json`` and ``test_eval/`` (ROC, confusion, calibration plots)."""
    if cfg.label_smoothing and loss_name(cfg) == "focal":
        raise TumorscopeError("--label-smoothing applies to --loss ce, not focal")
    if cfg.keep not in ("best", "last"):
        raise TumorscopeError(f"--keep {cfg.keep!r}: choose best or last")
    if cfg.mixup < 0 or not 0 <= cfg.label_smoothing < 1:
        raise TumorscopeError("--mixup must be >= 0 and --label-smoothing in [0, 1)")
    run = start_run(cfg)
    ds, dedup = _dataset(cfg, run)
    classes = sorted(ds.classes)
    parts = split_for_run(cfg, run, ds, allow_no_val=True)
    pre = Preprocessor(channels=cfg.channels, normalization=cfg.normalization, enhancement=cfg.enhancement,
                       size=(cfg.size, cfg.size), crop=cfg.crop)
    train = load_images(parts["train"], pre, classes, "reading train")
    val = load_images(parts["val"], pre, classes, "reading val") if parts["val"] else None
    k = len(classes)
    log.info("classes %s; training on %d images %s, validating on %s", classes, len(train.y),
             torch.bincount(train.y, minlength=k).tolist(),
             len(val.y) if val is not None else "none (--val-fraction 0): the last epoch is kept")
    options = {"width": cfg.width, "size": cfg.size}
    model = build_model(cfg.model, pre.in_channels, k, **options)
    init_report = load_init(model, cfg.init) if cfg.init and not resume else None
    from tumorscope.models.classifiers import freeze_stages

    to_channels_last(model)  # the batches below are channels-last too
    frozen_norms = freeze_stages(model, cfg.model, cfg.freeze)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    average = WeightAverage(model, cfg.ema)
    weight = class_weights(train.y, k) if cfg.class_weights == "balanced" else None
    if cfg.class_weights not in ("none", "balanced"):
        raise TumorscopeError(f"--class-weights {cfg.class_weights!r}: choose none or balanced")
    sampler = resolve_sampler(cfg.sampler, train.y, k)
    log.info("sampling: %s (--sampler %s)", sampler, cfg.sampler)
    loss = loss_name(cfg)

    def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if loss == "focal":
            return focal_loss(logits, y, weight)
        return F.cross_entropy(logits, y, weight=weight, label_smoothing=cfg.label_smoothing)

    batch_augment(train.x[:2], cfg.augment, torch.Generator())  # an unknown --augment fails before training
    gen = torch.Generator().manual_seed(cfg.seed)
    mix_rng = np.random.default_rng(cfg.seed)
    draw = 1.0 / torch.bincount(train.y, minlength=k).float()[train.y]  # balanced sampler: equal mass per class

    def train_epoch(epoch: int) -> dict[str, float]:
        for m in frozen_norms:
            m.eval()
        n = len(train.y)
        order = (torch.multinomial(draw, n, replacement=True, generator=gen) if sampler == "balanced"
                 else torch.randperm(n, generator=gen))
        batches = [b for b in order.split(cfg.batch_size) if len(b) > 1]  # BatchNorm needs 2+ images
        total, seen = 0.0, 0
        for idx in progress(batches, desc=f"epoch {epoch}", total=len(batches)):
            xb, yb = channels_last(batch_augment(train.x[idx], cfg.augment, gen)), train.y[idx]
            if cfg.mixup:
                xb, perm, lam = mixup_batch(xb, cfg.mixup, mix_rng)
            with autocast(cfg.bf16):
                logits = model(xb).float()
            batch_loss = loss_fn(logits, yb)
            if cfg.mixup:
                batch_loss = lam * batch_loss + (1 - lam) * loss_fn(logits, yb[perm])
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            opt.step()
            average.step()
            total += float(batch_loss.detach()) * len(idx)
            seen += len(idx)
        return {"loss": total / max(seen, 1)}

    def validate() -> dict[str, float]:
        if val is None:
            return {"score": float("nan")}
        return selection_score(val.y, predict_tensors(average.scored, val.x, bf16=cfg.bf16))

    result = fit(model, opt, sched, train_epoch, validate, run, cfg.epochs, cfg.patience, cfg.time_limit, resume,
                 average=average, bf16=cfg.bf16, generators=(gen, mix_rng),
                 keep_last=cfg.keep == "last" or val is None)
    training = {k2: v for k2, v in result.items() if k2 != "history"}
    n_val = len(val.y) if val is not None else 0
    if val is None:
        training["best_score"] = None  # no validation: the last epoch is kept, not scored
    if cfg.precise_bn:
        training["precise_bn"] = precise_batchnorm(model, train, val, cfg)
    bundle_config = {
        "name": run.name,
        "task": "classification",
        "classes": classes,
        "model": {"name": cfg.model, "in_channels": pre.in_channels, "out_channels": k, "options": options},
        "preprocessing": pre.to_dict(),
        "training": training | {"config": cfg.to_dict(), "dedup": dedup, "init": init_report, "sampler": sampler,
                                "n_train": len(train.y), "n_val": n_val},
        "training_fingerprints": {
            "about": "phash of every training and validation image: evaluation leaves out their (near-)copies",
            "near_threshold": NEAR_THRESHOLD,
            "phash": [f"{h:016x}" for h in train.hashes + (val.hashes if val is not None else [])],
        },
    }
    save_bundle(run / "bundle", model, bundle_config)
    summary: dict[str, Any] = training | {"classes": classes, "dedup": dedup, "init": init_report, "sampler": sampler,
                                          "n_train": len(train.y), "n_val": n_val}
    if parts.get("test"):
        from tumorscope.evaluate.classification import evaluate_classification_bundle
        from tumorscope.report.figures import write_classification_figures

        report = evaluate_classification_bundle(load_bundle(run / "bundle"), parts["test"], n_boot=1000)
        report.extra["figures"] = write_classification_figures(report, run / "test_eval")
        test = report.to_json()
        write_json(run / "test_metrics.json", test)
        summary.update({f"test_{m}": test[m] for m in ("n", "accuracy", "balanced_accuracy", "auc_macro", "f1_macro")})
    write_json(run / "train_summary.json", summary)
    return summary
