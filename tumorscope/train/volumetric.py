"""Training a 3-D U-Net on random patches of whole volumes, validated by per-volume Dice (sliding window).

The recipe follows nnU-Net, kept small for a CPU:

* a *plan* from the training volumes' fingerprint (median shape and spacing) fixes the patch and batch size
  (:func:`tumorscope.predict.volumetric.make_plan`); volumes stay at their own spacing (no resampling);
* every volume is normalised as a whole by the same Preprocessor as the 2-D path;
* an epoch draws ``PATCHES_PER_VOLUME`` patches per training volume; the last third of each batch (rounded,
  so 1 of 2 as in nnU-Net) is centred on a random tumor voxel, the rest lie anywhere; volumes smaller than
  the patch are zero-padded; sampling is seeded per epoch, so ``--resume`` continues the same sequence (with
  ``--nproc N`` each process draws its own 1/N of the patches from a stream of its own);
* augmentation: the ``volumetric`` table of :mod:`tumorscope.preprocess.augment` (flips along each axis and an
  intensity gain, drawn per patch); gradient norm clipped at 12;
* validation runs the whole volume with ``sliding_window_inference`` exactly as predict does.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from tumorscope.atomic import write_json
from tumorscope.bundle.postprocess import PostProcess
from tumorscope.data.volumes import load_stacks
from tumorscope.models import build_model
from tumorscope.models.precision import autocast
from tumorscope.predict.volumetric import SlidingWindow, as_volume, make_plan, predict_stack, volume_tensor
from tumorscope.preprocess.augment import Compose, augmenter
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.train import distributed
from tumorscope.train.data_split import split_for_run
from tumorscope.train.postprocess_search import choose_postprocess
from tumorscope.train.segmentation_base import SegmentationTrainer, bundle_config
from tumorscope.train.trainer import Generator

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


class VolumeTrainer(SegmentationTrainer):
    """3-D models (``cfg.model`` with spatial_dims 3); the run folder and bundle match the 2-D path, plus
    ``plan.json`` and the bundle's ``volumetric`` sliding-window settings."""

    augment_table = "volumetric"
    patches_per_volume = PATCHES_PER_VOLUME

    def load_data(self) -> None:
        cfg = self.cfg
        parts = split_for_run(cfg, self.run_dir)
        self.pre = Preprocessor(channels=cfg.channels, normalization=cfg.normalization, enhancement=cfg.enhancement)
        vols = {name: [as_volume(s) for s in load_stacks(samples, desc=f"reading {name}")]
                for name, samples in parts.items() if samples}
        self.plan = make_plan(vols["train"], max_edge=cfg.size, batch_size=cfg.batch_size)
        write_json(self.run_dir / "plan.json", self.plan.to_dict())
        self.window = SlidingWindow(patch_size=self.plan.patch_size, sw_batch_size=self.plan.batch_size)
        self.sampler = PatchSampler(
            [volume_tensor(self.pre, v.images, v.samples[0].image if v.samples else None) for v in vols["train"]],
            [v.require_masks() for v in vols["train"]], self.plan.patch_size, seed=cfg.seed,
        )
        self.in_channels = int(self.sampler.images[0].shape[0])
        n_train = len(vols.pop("train"))  # the sampler holds the normalised copies
        self.parts = vols
        log.info("3-D plan: patch %s, batch %d; %d training and %d validation volumes",
                 self.plan.patch_size, self.plan.batch_size, n_train, len(vols["val"]))

    def build_model(self) -> torch.nn.Module:
        return self.initialise(build_model(self.cfg.model, self.in_channels, 1, width=self.cfg.width))

    def build_augment(self) -> Compose:
        return augmenter("volumetric", self.cfg.augment)

    def generators(self) -> tuple[Generator, ...]:
        return ()  # sampling and augmentation are reseeded every epoch

    def start_epoch(self, epoch: int) -> None:
        self.sampler.rng = np.random.default_rng([self.cfg.seed, epoch, *distributed.stream_key()])
        if self.augment is not None:
            self.augment.generator.manual_seed(self.cfg.seed * 100_003 + epoch + 7_919 * distributed.rank())

    def batches(self, epoch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        share = -(-self.patches_per_volume * len(self.sampler) // distributed.world_size())  # the same in every process
        return self.sampler.batches(share, self.plan.batch_size)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, float]:
        assert self.augment is not None
        xb, yb = self.augment(*batch)
        assert yb is not None
        with autocast(self.cfg.bf16):
            logits = self.net(xb)
        return self.loss_fn(logits.float(), self.targets(yb)), len(xb)

    def targets(self, masks: torch.Tensor) -> torch.Tensor:
        """What the network's outputs are trained against, from the (B, 1, *patch) label patches: the mask."""
        return masks

    def clip_gradients(self) -> None:
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), GRAD_CLIP)

    def evaluate_options(self) -> dict[str, Any]:
        return {"window": self.window}

    def tune_postprocess(self) -> PostProcess:
        probs = {tta: [predict_stack(self.model, self.pre, v, self.window, tta=tta, bf16=self.cfg.bf16)[1]
                       for v in self.parts["val"]] for tta in (False, True)}
        return choose_postprocess(self.parts["val"], probs)

    def bundle_config(self, result: dict[str, Any]) -> dict[str, Any]:
        volumetric = self.window.to_dict() | {"plan": self.plan.to_dict()}
        return bundle_config(self.cfg, self.run_dir, self.pre, self.post, self.in_channels, result,
                             volumetric=volumetric)

    def summary(self, result: dict[str, Any]) -> dict[str, Any]:
        return super().summary(result) | {"patch_size": list(self.plan.patch_size)}


def train_volumetric(cfg: Any, resume: bool = False) -> dict[str, Any]:
    """Train a 3-D segmentation model (see :class:`VolumeTrainer`)."""
    return VolumeTrainer(cfg, resume).run()
