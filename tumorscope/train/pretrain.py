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
from monai.losses import ContrastiveLoss
from torch import nn

from tumorscope.atomic import write_json
from tumorscope.data.dataset import load_dataset
from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model
from tumorscope.models.precision import autocast
from tumorscope.options import PretrainConfig
from tumorscope.options.describe import PRETRAIN_SUMMARY
from tumorscope.predict.classify import image_array, image_tensor
from tumorscope.preprocess.augment import Compose, augmenter
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.progress import progress
from tumorscope.train.loop import save_torch
from tumorscope.train.trainer import Trainer, training_result

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


def contrastive_view(x: torch.Tensor, augment: Compose) -> torch.Tensor:
    """One random view of a (B, C, S, S) batch: the ``contrastive`` augmentation table (a crop of 35-100% of the
    area resized back, the classifier's heavy augmentation, contrast/brightness jitter, Gaussian noise)."""
    return augment(x)[0]


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Normalised-temperature cross-entropy (MONAI's ``ContrastiveLoss``): each view must find its partner among
    the 2B - 1 others."""
    return ContrastiveLoss(temperature=temperature)(z1.float(), z2.float())


class ContrastiveNet(nn.Module):
    """The encoder (a registry classifier whose head gives PROJECTION features) and a small projector."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = nn.Sequential(nn.ReLU(), nn.Linear(PROJECTION, PROJECTION))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(x))


class ContrastiveTrainer(Trainer):
    """Contrastive pretraining: two views per image, NT-Xent; validation is the NT-Xent of held-out images
    under the same views every epoch (so the scores compare)."""

    cfg: PretrainConfig

    def check(self) -> None:
        if not self.cfg.data:
            raise TumorscopeError("--data needs at least one image folder")
        if self.cfg.batch_size < 2:
            raise TumorscopeError("--batch-size must be at least 2 for contrastive pretraining")

    def load_data(self) -> None:
        cfg = self.cfg
        self.pre = Preprocessor(channels=cfg.channels, normalization=cfg.normalization, size=(cfg.size, cfg.size))
        x, self.paths = collect_images(cfg.data, self.pre)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.seed))
        self.n_images, self.n_val = len(x), max(2, round(cfg.val_fraction * len(x)))
        self.val_x, self.train_x = x[order[: self.n_val]], x[order[self.n_val :]]
        log.info("contrastive pretraining on %d images (%d held out for validation) from %s", len(self.train_x),
                 self.n_val, ", ".join(cfg.data))

    def build_model(self) -> torch.nn.Module:
        cfg = self.cfg
        return ContrastiveNet(build_model(cfg.model, self.pre.in_channels, PROJECTION, width=cfg.width, size=cfg.size))

    def build_loss(self) -> Any:
        return lambda z1, z2: nt_xent(z1, z2, self.cfg.temperature)

    def build_augment(self) -> Compose:
        return augmenter("contrastive", "default", seed=self.cfg.seed + 1)

    def views_loss(self, batch: torch.Tensor, augment: Compose) -> torch.Tensor:
        with autocast(self.cfg.bf16):
            z1, z2 = self.model(contrastive_view(batch, augment)), self.model(contrastive_view(batch, augment))
        return self.loss_fn(z1, z2)

    def batches(self, epoch: int) -> list[torch.Tensor]:
        order = torch.randperm(len(self.train_x), generator=self.generator)
        return [b for b in order.split(self.cfg.batch_size) if len(b) > 1]

    def train_step(self, idx: torch.Tensor) -> tuple[torch.Tensor, float]:
        assert self.augment is not None
        return self.views_loss(self.train_x[idx], self.augment), 1.0  # the epoch loss is the mean over batches

    def validate(self) -> dict[str, float]:
        fixed = augmenter("contrastive", "default", seed=self.cfg.seed + 2)  # the same views every epoch
        batches = [b for b in self.val_x.split(self.cfg.batch_size) if len(b) > 1]
        loss = float(np.mean([float(self.views_loss(b, fixed)) for b in batches]))
        return {"score": -loss, "loss": loss}

    def finish(self, result: dict[str, Any]) -> dict[str, Any]:
        cfg, run = self.cfg, self.run_dir
        assert isinstance(self.model, ContrastiveNet)
        save_torch(self.model.encoder.state_dict(), run / "encoder.pt")
        summary = training_result(result) | {
            "n_images": self.n_images, "n_train": len(self.train_x), "n_val": self.n_val, "data": cfg.data,
            "model": cfg.model, "encoder": str(run / "encoder.pt"),
            "use": f"tumorscope train --task classification --model {cfg.model} --width {cfg.width} --size {cfg.size} "
                   f"--channels {cfg.channels} --init {run} ...",
        }
        write_json(run / PRETRAIN_SUMMARY, summary)
        write_json(run / "pretrain_images.json", {"images": self.paths})
        return summary


def pretrain(cfg: PretrainConfig, resume: bool = False) -> dict[str, Any]:
    """Fit the encoder on ``cfg.data`` (validation: NT-Xent on held-out images, fixed views); write
    ``encoder.pt`` (best epoch's encoder weights), ``pretrain_summary.json`` and the usual run files."""
    return ContrastiveTrainer(cfg, resume).run()
