"""Training the three nested BraTS regions (WT, TC, ET) as three overlapping sigmoid outputs of a 3-D network.

A :class:`~tumorscope.train.volumetric.VolumeTrainer` whose data are BraTS cases (layout ``brats`` or
``msd_brats``), prepared the nnU-Net way (:mod:`tumorscope.data.brats_volumes`): the plan
(:mod:`tumorscope.predict.brats_plan`) picks the target spacing from the header fingerprint and the patch from
the brain boxes on that grid; patches are drawn by the same PatchSampler (a third of each batch centred on
tumor), its one mask channel holding WT + TC + ET (0-3), split into the three region targets per batch; the
loss is ``--loss`` (default Dice + BCE, per region, on the sigmoid outputs); validation is the mean region Dice
on the plan's grid. At the end the ET rule is chosen on the validation cases, the bundle is written and, with
a CV fold, the held-out cases are predicted on their original grid in BraTS labels (``predictions/``) and
scored as ``tumorscope evaluate`` does (``test_metrics.json``).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import torch

from tumorscope.atomic import write_json
from tumorscope.bundle import save_bundle
from tumorscope.data.brats import MODALITIES, REGIONS
from tumorscope.data.brats_cases import Case, geometry
from tumorscope.data.brats_volumes import PreparedCase, check_modalities, prepare_case
from tumorscope.data.dataset import detect_layout
from tumorscope.models import build_model
from tumorscope.predict.brats_plan import BratsPlan, make_brats_plan, with_boxes
from tumorscope.predict.brats_regions import RegionPost, plan_probabilities, region_dice
from tumorscope.predict.volumetric import SlidingWindow
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.progress import progress
from tumorscope.train.brats_fold import FoldPredictor, choose_post, predict_test, test_dice
from tumorscope.train.data_split import split_for_run
from tumorscope.train.trainer import training_result
from tumorscope.train.volumetric import PatchSampler, VolumeTrainer

log = logging.getLogger(__name__)

MIN_LR_FACTOR = 0.01  # the learning rate never anneals below 1 % of --lr


def region_targets(encoded: torch.Tensor) -> torch.Tensor:
    """(B, 1, ...) WT + TC + ET counts (0-3) -> (B, 3, ...) float WT/TC/ET targets."""
    return torch.cat([encoded >= 1, encoded >= 2, encoded >= 3], dim=1).float()


class BratsTrainer(VolumeTrainer):
    """3-D WT/TC/ET training on BraTS cases; run folder: plan.json, bundle/, predictions/ (CV fold).

    The cosine learning rate follows whichever is further along, the epochs or the ``--time-limit`` clock, so a
    run stopped by its time limit has annealed (the machine's speed decides how many epochs fit; a resumed run
    restarts the clock)."""

    plan: BratsPlan  # type: ignore[assignment]  # the BraTS plan, not the single-label 3-D one
    post: RegionPost  # type: ignore[assignment]

    def load_data(self) -> None:
        cfg = self.cfg
        self.samples = split_for_run(cfg, self.run_dir)
        self.cases = {name: [Case.of(s) for s in samples] for name, samples in self.samples.items() if samples}
        for c in (c for cases in self.cases.values() for c in cases):
            check_modalities(c)
        grids = [geometry(c.modalities[MODALITIES[0]][0]) for c in self.cases["train"]]
        plan = make_brats_plan([g.shape[::-1] for g in grids], [g.spacing[::-1] for g in grids], cfg.batch_size)
        prepared = {name: [prepare_case(c, plan.spacing) for c in progress(cases, desc=f"preparing {name}")]
                    for name, cases in self.cases.items() if name != "test"}
        train = prepared["train"]
        self.plan = with_boxes(plan, [p.images.shape[1:] for p in train], cfg.size)
        stats = np.median(np.stack([p.stats for p in train if p.stats is not None]), axis=0)
        self.plan.intensity = {m: {"mean": float(s[0]), "std": float(s[1])} for m, s in zip(MODALITIES, stats)}
        write_json(self.run_dir / "plan.json", self.plan.to_dict())
        self.window = SlidingWindow(patch_size=self.plan.patch_size, sw_batch_size=self.plan.batch_size)
        for p in train:
            if p.regions is None:
                raise ValueError(f"training case {p.id} has no segmentation")
        self.sampler = PatchSampler([torch.from_numpy(p.images) for p in train],
                                    [p.regions.sum(0).astype(np.uint8) for p in train if p.regions is not None],
                                    self.plan.patch_size, seed=cfg.seed)
        self.in_channels = len(MODALITIES)
        self.val: list[PreparedCase] = prepared["val"]
        self.pre = Preprocessor(channels="all", normalization="zscore")  # recorded only: see the plan
        log.info("BraTS plan: spacing %s mm, patch %s, batch %d; %d training, %d validation, %d test cases",
                 self.plan.spacing, self.plan.patch_size, self.plan.batch_size, len(train), len(self.val),
                 len(self.cases.get("test", [])))

    def build_scheduler(self) -> Any:
        start, limit, epochs = time.monotonic(), self.cfg.time_limit, self.cfg.epochs

        def factor(epoch: int) -> float:
            done = epoch / epochs
            if limit:
                done = max(done, (time.monotonic() - start) / limit)
            return max(MIN_LR_FACTOR, 0.5 * (1 + math.cos(math.pi * min(1.0, done))))

        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    def build_model(self) -> torch.nn.Module:
        return self.initialise(build_model(self.cfg.model, self.in_channels, len(REGIONS), width=self.cfg.width))

    def targets(self, masks: torch.Tensor) -> torch.Tensor:
        """The label patches as the three nested region masks WT/TC/ET."""
        return region_targets(masks)

    def validate(self) -> dict[str, float]:
        model = self.average.scored
        scores = np.array([region_dice(plan_probabilities(model, p, self.window, self.cfg.bf16).numpy() >= 0.5,
                                       p.regions) for p in self.val if p.regions is not None])
        means = scores.mean(axis=0)
        return {"score": float(means.mean()), **{f"dice_{r}": float(v) for r, v in zip(REGIONS, means)}}

    def finish(self, result: dict[str, Any]) -> dict[str, Any]:
        predictor = FoldPredictor(self.model, self.plan, self.window, self.cfg.bf16)
        self.post, choice = choose_post(predictor, self.cases["val"])
        config = brats_bundle_config(self.cfg, self.run_dir.name, self.plan, self.window, self.post, self.pre,
                                     training_result(result) | {"postprocessing_search": choice})
        save_bundle(self.run_dir / "bundle", self.model, config)
        summary = training_result(result) | {"postprocessing": self.post.to_dict(), "plan": self.plan.to_dict()}
        if self.samples.get("test"):
            layout = detect_layout(self.cfg.data)
            summary |= test_dice(predict_test(predictor, self.post, self.samples["test"], self.run_dir, layout))
        write_json(self.run_dir / "train_summary.json", summary)
        return summary


def brats_bundle_config(cfg: Any, name: str, plan: BratsPlan, window: SlidingWindow, post: RegionPost,
                        pre: Preprocessor, training: dict[str, Any]) -> dict[str, Any]:
    """The config.json of a BraTS region bundle: the usual keys plus ``brats`` (plan, ET rule, modalities)."""
    return {
        "name": name,
        "task": "segmentation",
        "classes": list(REGIONS),
        "modality": "mri",
        "model": {"name": cfg.model, "in_channels": len(MODALITIES), "out_channels": len(REGIONS),
                  "options": {"width": cfg.width}},
        "preprocessing": pre.to_dict(),
        "volumetric": window.to_dict(),
        "brats": {"plan": plan.to_dict(), "postprocessing": post.to_dict(), "modalities": list(MODALITIES),
                  "label_scheme": "brats2018"},
        "training": training | {"config": cfg.to_dict()},
    }


def train_brats(cfg: Any, resume: bool = False) -> dict[str, Any]:
    """Train a BraTS region model (see :class:`BratsTrainer`)."""
    return BratsTrainer(cfg, resume).run()
