"""What 2-D and 3-D segmentation training share: options check, losses (MONAI), per-epoch validation by
per-patient Dice, the bundle config and the end of a run (post-processing search, bundle with its drift
reference on the validation volumes, held-out scores)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from monai.losses import DiceCELoss, DiceFocalLoss, DiceLoss, FocalLoss

from tumorscope.atomic import write_json
from tumorscope.bundle import Bundle, save_bundle
from tumorscope.bundle.postprocess import PostProcess
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.segmentation import evaluate_stacks, summarize
from tumorscope.options import TrainConfig
from tumorscope.predict.reference import split_reference
from tumorscope.preprocess.augment import levels
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.train.trainer import Trainer, training_result
from tumorscope.train.transfer import load_init

LOSSES = {
    "dice": lambda: DiceLoss(sigmoid=True, batch=True),
    "dicece": lambda: DiceCELoss(sigmoid=True, batch=True),
    "focal": lambda: FocalLoss(gamma=2.0),
    "dicefocal": lambda: DiceFocalLoss(sigmoid=True, batch=True, gamma=2.0),
}


def validation_row(
    model: torch.nn.Module, pre: Preprocessor, val: list[Any], bf16: bool, **evaluate: Any
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
        "training": training_result(result) | {"config": cfg.to_dict()},
    }


class SegmentationTrainer(Trainer):
    """Binary tumor segmentation. Subclasses set ``pre``, ``in_channels`` and ``parts`` (the ``val`` and, with a
    CV fold, ``test`` stacks) in ``load_data`` and choose ``post`` in ``tune_postprocess``."""

    cfg: TrainConfig
    augment_table = "segmentation"
    pre: Preprocessor
    in_channels: int
    parts: dict[str, list[Any]]
    init_report: dict[str, Any] | None = None  # what --init loaded (train.transfer.load_init)

    def check(self) -> None:
        cfg = self.cfg
        if cfg.mixup or cfg.label_smoothing or cfg.augment == "strong" or cfg.crop != "none":
            raise TumorscopeError("--mixup, --label-smoothing, --crop and --augment strong are classification options")
        if cfg.freeze:
            raise TumorscopeError("--freeze freezes a classifier's stages: it is a classification option")
        if cfg.loss not in LOSSES:
            raise TumorscopeError(f"--loss {cfg.loss!r} is not a segmentation loss: use {', '.join(LOSSES)}")
        if cfg.augment not in levels(self.augment_table):
            raise TumorscopeError(f"--augment {cfg.augment!r}: choose from {', '.join(levels(self.augment_table))}")

    def build_loss(self) -> Any:
        return LOSSES[self.cfg.loss]()

    def initialise(self, model: torch.nn.Module) -> torch.nn.Module:
        """``--init``: start ``model`` from a checkpoint (a resumed run starts from its own checkpoint instead)."""
        if self.cfg.init and not self.resume:
            self.init_report = load_init(model, self.cfg.init, self.cfg.init_member)
        return model

    def evaluate_options(self) -> dict[str, Any]:
        """Extra options of evaluate_stacks for this kind of model (3-D: the sliding window)."""
        return {}

    def validate(self) -> dict[str, float]:
        return validation_row(self.average.scored, self.pre, self.parts["val"], self.cfg.bf16, **self.evaluate_options())

    def tune_postprocess(self) -> PostProcess:
        raise NotImplementedError

    def bundle_config(self, result: dict[str, Any]) -> dict[str, Any]:
        return bundle_config(self.cfg, self.run_dir, self.pre, self.post, self.in_channels, result)

    def summary(self, result: dict[str, Any]) -> dict[str, Any]:
        return training_result(result) | {"postprocessing": self.post.to_dict()}

    def finish(self, result: dict[str, Any]) -> dict[str, Any]:
        if self.init_report is not None:  # recorded in the bundle's training section and the summary
            result = result | {"init": self.init_report}
        self.post = self.tune_postprocess()
        config = self.bundle_config(result)
        reference = split_reference(Bundle(self.run_dir / "bundle", config, self.model), self.parts["val"], [],
                                    self.cfg.data)
        save_bundle(self.run_dir / "bundle", self.model, config, reference=reference)
        summary = self.summary(result)
        self.after_bundle()
        if self.parts.get("test"):
            test = summarize(evaluate_stacks(self.model, self.pre, self.post, self.parts["test"], bf16=self.cfg.bf16,
                                             **self.evaluate_options()))
            write_json(self.run_dir / "test_metrics.json", test)
            summary["test_dice_mean"] = test["dice_mean"]
        write_json(self.run_dir / "train_summary.json", summary)
        return summary

    def after_bundle(self) -> None:
        """Between the bundle and the test scores (2-D: the validation metrics file)."""
