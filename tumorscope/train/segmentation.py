"""Training a 2-D / 2.5-D segmentation network on slices, validated by per-patient volumetric Dice.

``train_segmentation`` is the entry point for every segmentation model: 3-D ones go to
:class:`~tumorscope.train.volumetric.VolumeTrainer`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from tumorscope.atomic import write_json
from tumorscope.bundle.postprocess import PostProcess
from tumorscope.data.brats_cases import BRATS_LAYOUTS
from tumorscope.data.dataset import detect_layout
from tumorscope.data.volumes import SliceStack, load_stacks
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.segmentation import evaluate_stacks, summarize
from tumorscope.models import build_model
from tumorscope.models.precision import autocast
from tumorscope.models.registry import MODELS
from tumorscope.options import TrainConfig
from tumorscope.preprocess.augment import Compose, augmenter
from tumorscope.preprocess.channels import select_channels
from tumorscope.preprocess.pipeline import Preprocessor, resize
from tumorscope.train import distributed
from tumorscope.train.brats import BratsTrainer
from tumorscope.train.data_split import split_for_run
from tumorscope.train.postprocess_search import tune_postprocess
from tumorscope.train.segmentation_base import SegmentationTrainer
from tumorscope.train.volumetric import VolumeTrainer

log = logging.getLogger(__name__)


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


class SliceTrainer(SegmentationTrainer):
    """2-D / 2.5-D: every training slice once per epoch in a random order, augmented image + mask."""

    def load_data(self) -> None:
        cfg = self.cfg
        parts = split_for_run(cfg, self.run_dir)
        self.pre = preprocessor_for(cfg)
        self.parts = {name: load_stacks(samples, desc=f"reading {name}") for name, samples in parts.items() if samples}
        if cfg.channels == "all":
            self.pre.expected_channels = select_channels(self.parts["train"][0].images[:1], "all").shape[-1]
        self.x, self.y = tensors(self.parts["train"], self.pre)
        self.in_channels = int(self.x.shape[1])
        log.info("training on %d slices of %d volumes; validating on %d volumes",
                 len(self.x), len(self.parts["train"]), len(self.parts.get("val", [])))

    def build_model(self) -> torch.nn.Module:
        return self.initialise(build_model(self.cfg.model, self.in_channels, 1, width=self.cfg.width))

    def build_augment(self) -> Compose:
        return augmenter("segmentation", self.cfg.augment, seed=self.cfg.seed + 1)

    def batches(self, epoch: int) -> list[torch.Tensor]:
        order = distributed.shard(torch.randperm(len(self.x), generator=self.generator))
        return list(order.split(self.cfg.batch_size))

    def train_step(self, idx: torch.Tensor) -> tuple[torch.Tensor, float]:
        assert self.augment is not None
        xb, yb = self.augment(self.x[idx], self.y[idx])
        with autocast(self.cfg.bf16):
            logits = self.net(xb)
        return self.loss_fn(logits.float(), yb), len(idx)

    def tune_postprocess(self) -> PostProcess:
        return tune_postprocess(self.model, self.pre, self.parts["val"], self.cfg.bf16, self.run_dir)

    def after_bundle(self) -> None:
        val = summarize(evaluate_stacks(self.model, self.pre, self.post, self.parts["val"], bf16=self.cfg.bf16,
                                        show_progress=False))
        write_json(self.run_dir / "val_metrics.json", val)  # selection data: optimistic by construction


def train_segmentation(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train, keep the best epoch by validation Dice, write the bundle; with ``cfg.fold`` also score the
    held-out test patients (never seen during training or model selection). 3-D models train on patches
    of whole volumes (tumorscope.train.volumetric); on BraTS cases, the three tumor regions (train.brats)."""
    spec = MODELS.get(cfg.model)
    volumetric = spec is not None and spec.spatial_dims == 3
    if detect_layout(cfg.data) in BRATS_LAYOUTS:
        if not volumetric:
            raise TumorscopeError(f"BraTS cases train the WT/TC/ET regions with a 3-D model "
                                  f"(unet3d, segresnet3d), not {cfg.model}", cfg.data)
        return BratsTrainer(cfg, resume).run()
    trainer = VolumeTrainer if volumetric else SliceTrainer
    return trainer(cfg, resume).run()
