"""Self-supervised in-domain pretraining without labels: SimCLR-style contrastive learning (Chen et al. 2020).

Two random views of every image (crop-and-resize, flips, 90-degree turns, rotation, gamma, contrast and
brightness jitter, noise) are pulled together and pushed away from the other images of the batch (NT-Xent loss).
Labels, masks and folders' class names are ignored, so any collection of 2-D images can serve: unlabelled scans,
another dataset, the slices of a segmentation set. The encoder is written to ``RUN/encoder.pt``; start a
classifier from it with ``tumorscope train --init RUN``.

Honesty: images that are the CV test images of the downstream task must not be in the pretraining data, or the
fine-tuned numbers are optimistic; pretrain on *other* images (e.g. LGG slices for the brain 4-class set).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tumorscope.atomic import write_json
from tumorscope.data.dataset import load_dataset
from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model
from tumorscope.models.precision import autocast
from tumorscope.predict.classify import image_array, image_tensor
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.progress import progress
from tumorscope.train.classification import batch_augment
from tumorscope.train.config import PRETRAIN_SUMMARY, PretrainConfig
from tumorscope.train.loop import fit, save_torch, start_run

log = logging.getLogger(__name__)

PROJECTION = 128  # the encoder's head outputs this many features; a small MLP projects them again


def collect_images(folders: list[str], pre: Preprocessor) -> tuple[torch.Tensor, list[str]]:
    """Every 2-D image of every dataset folder (any layout), preprocessed; masks and labels are not read."""
    paths: list[Path] = []
    for folder in folders:
        paths += [s.image for s in load_dataset(folder).samples]
    paths = sorted(set(paths))
    if len(paths) < 4:
        raise TumorscopeError(f"contrastive pretraining needs at least 4 images, found {len(paths)}", folders[0])
    xs = [image_tensor(pre, image_array(p), p) for p in progress(paths, desc="reading images", total=len(paths))]
    return torch.stack(xs), [str(p) for p in paths]


def contrastive_view(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random view of a (B, C, S, S) batch: a crop of 35-100% of the area resized back, then the
    classifier's heavy augmentation, then contrast/brightness jitter and Gaussian noise (in z-units)."""
    b = x.shape[0]
    scale = torch.sqrt(0.35 + 0.65 * torch.rand(b, generator=gen))  # side of the crop, as a fraction
    centre = (torch.rand(b, 2, generator=gen) * 2 - 1) * (1 - scale)[:, None]
    zeros = torch.zeros(b)
    theta = torch.stack([torch.stack([scale, zeros, centre[:, 0]], 1), torch.stack([zeros, scale, centre[:, 1]], 1)], 1)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
    x = batch_augment(x, "heavy", gen)
    sd = x.std(dim=(1, 2, 3), keepdim=True).clamp(min=1e-6)
    contrast = 1 + 0.4 * (torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1)
    shift = 0.4 * (torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1) * sd
    noise = 0.05 * sd * torch.randn(x.shape, generator=gen)
    return x * contrast + shift + noise


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Normalised-temperature cross-entropy: each view must find its partner among the 2B - 1 others."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    sim = z @ z.T / temperature
    n = z1.shape[0]
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, target)


class ContrastiveNet(nn.Module):
    """The encoder (a registry classifier whose head gives PROJECTION features) and a small projector."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = nn.Sequential(nn.ReLU(), nn.Linear(PROJECTION, PROJECTION))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(x))


def pretrain(cfg: PretrainConfig, resume: bool = False) -> dict[str, Any]:
    """Fit the encoder on ``cfg.data`` (validation: NT-Xent on held-out images, fixed views); write
    ``encoder.pt`` (best epoch's encoder weights), ``pretrain_summary.json`` and the usual run files."""
    if not cfg.data:
        raise TumorscopeError("--data needs at least one image folder")
    if cfg.batch_size < 2:
        raise TumorscopeError("--batch-size must be at least 2 for contrastive pretraining")
    run = start_run(cfg)
    pre = Preprocessor(channels=cfg.channels, normalization=cfg.normalization, size=(cfg.size, cfg.size))
    x, paths = collect_images(cfg.data, pre)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.seed))
    n_val = max(2, round(cfg.val_fraction * len(x)))
    val_x, train_x = x[order[:n_val]], x[order[n_val:]]
    log.info("contrastive pretraining on %d images (%d held out for validation) from %s", len(train_x), n_val,
             ", ".join(cfg.data))
    net = ContrastiveNet(build_model(cfg.model, pre.in_channels, PROJECTION, width=cfg.width, size=cfg.size))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    gen = torch.Generator().manual_seed(cfg.seed)

    def step_loss(batch: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        with autocast(cfg.bf16):
            z1, z2 = net(contrastive_view(batch, g)), net(contrastive_view(batch, g))
        return nt_xent(z1, z2, cfg.temperature)

    def train_epoch(epoch: int) -> dict[str, float]:
        batches = [b for b in torch.randperm(len(train_x), generator=gen).split(cfg.batch_size) if len(b) > 1]
        total = 0.0
        for idx in progress(batches, desc=f"epoch {epoch}", total=len(batches)):
            loss = step_loss(train_x[idx], gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
        return {"loss": total / max(len(batches), 1)}

    def validate() -> dict[str, float]:
        g = torch.Generator().manual_seed(cfg.seed + 1)  # the same views every epoch: comparable scores
        loss = float(np.mean([float(step_loss(b, g)) for b in val_x.split(cfg.batch_size) if len(b) > 1]))
        return {"score": -loss, "loss": loss}

    result = fit(net, opt, sched, train_epoch, validate, run, cfg.epochs, cfg.patience, cfg.time_limit, resume,
                 bf16=cfg.bf16, generators=(gen,))
    save_torch(net.encoder.state_dict(), run / "encoder.pt")
    summary = {k: v for k, v in result.items() if k != "history"} | {
        "n_images": len(x), "n_train": len(train_x), "n_val": n_val, "data": cfg.data, "model": cfg.model,
        "encoder": str(run / "encoder.pt"),
        "use": f"tumorscope train --task classification --model {cfg.model} --width {cfg.width} --size {cfg.size} "
               f"--channels {cfg.channels} --init {run} ...",
    }
    write_json(run / PRETRAIN_SUMMARY, summary)
    write_json(run / "pretrain_images.json", {"images": paths})
    return summary
