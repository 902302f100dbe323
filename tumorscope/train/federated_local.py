"""What a federated site does without any FL library: train the segmentation network for E local epochs on
its own slices (the segmentation trainer's model, preprocessing, loss, augmentation and epoch loop), hand its
weights over as numpy arrays, and score a model on held-out patients with per-patient Dice."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tumorscope.bundle import save_bundle
from tumorscope.bundle.postprocess import PostProcess
from tumorscope.data.volumes import SliceStack
from tumorscope.evaluate.segmentation import evaluate_stacks, summarize
from tumorscope.models import build_model
from tumorscope.options import TrainConfig
from tumorscope.preprocess.channels import select_channels
from tumorscope.train.loop import WeightAverage, seed_everything
from tumorscope.train.segmentation import SliceTrainer, preprocessor_for, tensors
from tumorscope.train.segmentation_base import bundle_config


class SiteTrainer(SliceTrainer):
    """The slice trainer on in-memory stacks, driven epoch by epoch from outside (no validation, no
    checkpoints): the network starts from ``cfg.seed`` so every site builds the same initial weights; the
    optimiser's state stays with the site across rounds."""

    def __init__(self, cfg: TrainConfig, stacks: Sequence[SliceStack]) -> None:
        super().__init__(cfg)
        self.check()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.pre = preprocessor_for(cfg)
        if cfg.channels == "all":
            self.pre.expected_channels = select_channels(stacks[0].images[:1], "all").shape[-1]
        self.x, self.y = tensors(list(stacks), self.pre)
        self.in_channels = int(self.x.shape[1])
        seed_everything(cfg.seed)
        self.model = self.build_model()
        self.net = self.model  # what train_step runs (one process per site: no DDP wrapper)
        self.optimizer = self.build_optimizer()
        self.average = WeightAverage(self.model)
        self.loss_fn = self.build_loss()
        self.augment = self.build_augment()
        self.epochs_done = 0

    @property
    def examples(self) -> int:
        """The number of training slices (FedAvg's weight of this site)."""
        return len(self.x)

    def train_epochs(self, epochs: int) -> float:
        """Train ``epochs`` more epochs; the mean loss of the last one."""
        self.model.train()
        loss = float("nan")
        for _ in range(epochs):
            loss = self.train_epoch(self.epochs_done)["loss"]
            self.epochs_done += 1
        self.model.eval()
        return loss


def get_weights(model: torch.nn.Module) -> list[np.ndarray]:
    """Every entry of the state dict (parameters and norm buffers), in its order, as numpy arrays."""
    return [t.detach().cpu().numpy().copy() for t in model.state_dict().values()]


def set_weights(model: torch.nn.Module, weights: Sequence[np.ndarray]) -> None:
    """Load arrays from :func:`get_weights` (each cast back to its entry's dtype, e.g. an averaged counter)."""
    state = model.state_dict()
    if len(weights) != len(state):
        raise ValueError(f"{len(weights)} arrays for a state dict of {len(state)} entries")
    model.load_state_dict({k: torch.as_tensor(np.asarray(w)).to(v.dtype).reshape(v.shape)
                           for (k, v), w in zip(state.items(), weights)})


def global_model(cfg: TrainConfig, in_channels: int, weights: Sequence[np.ndarray]) -> torch.nn.Module:
    """The network of ``cfg`` holding ``weights`` (e.g. the server's aggregate), in eval mode."""
    model = build_model(cfg.model, in_channels, 1, width=cfg.width)
    set_weights(model, weights)
    return model.eval()


def score(model: torch.nn.Module, cfg: TrainConfig, stacks: list[SliceStack], in_channels: int) -> dict[str, Any]:
    """Per-patient Dice (with bootstrap CIs) of ``model`` on ``stacks``, plain post-processing (nothing tuned:
    a federated run has no pooled validation data to tune it on)."""
    pre = _pre(cfg, in_channels)
    return summarize(evaluate_stacks(model, pre, PostProcess(), stacks, bf16=cfg.bf16, show_progress=False))


def save_global(out: Path, cfg: TrainConfig, model: torch.nn.Module, in_channels: int,
                result: dict[str, Any]) -> Path:
    """The global model as a bundle in ``out/bundle`` (loadable by predict / evaluate)."""
    config = bundle_config(cfg, out, _pre(cfg, in_channels), PostProcess(), in_channels, result)
    save_bundle(out / "bundle", model, config)
    return out / "bundle"


def _pre(cfg: TrainConfig, in_channels: int) -> Any:
    pre = preprocessor_for(cfg)
    if cfg.channels == "all":
        pre.expected_channels = in_channels
    return pre
