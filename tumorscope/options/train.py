"""The options of ``tumorscope train`` / ``cv``: common, segmentation and classification groups in one config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from tumorscope.errors import TumorscopeError
from tumorscope.options.saved import SavedConfig
from tumorscope.options.spec import (
    TASK_DEFAULT,
    Choices,
    Interval,
    check_fields,
    option,
    resolve_task_defaults,
)

TASKS = ("segmentation", "classification")
SEG_LOSSES = ("dice", "dicece", "focal", "dicefocal")
CLS_LOSSES = ("ce", "focal")
LEVELS = ("none", "light", "default", "heavy")
CHANNELS = ("flair", "mri3", "gray", "rgb", "all")
POSITIVE = Interval(int, 1)
FRACTION = Interval(float, 0, 1, closed="left")
CLASSICAL_MODELS = ("svm", "rf", "gbm", "logreg")  # scikit-learn pipelines on radiomics features (tumorscope.classical)
CLASSICAL_ROIS = ("foreground", "whole", "predicted", "mask")  # mask: only for a data.csv --target (never the label)
_CLASSICAL = ("select", "hparams", "features", "roi", "target", "filters", "patient_relative")

_PATIENCE_HELP = (
    "early stopping (segmentation; classification with --keep best): epochs without a better validation score; "
    "the learning rate follows a cosine schedule over --epochs, so a patience much shorter than --epochs can stop "
    "on a lucky early score before the rate anneals (set it to --epochs to switch early stopping off)")
_KEEP_HELP = (
    "classification: bundle the last epoch (no early stopping, validation is still scored and logged) or the epoch "
    "with the best validation score (early stopping after --patience). Measured: the last epoch beat the "
    "best-validation one for all 9 brain MRI and 6 BUSI networks tried (docs/classification.md, rounds 14b, 14c, "
    "16). --val-fraction 0 always keeps the last")


@dataclass
class TrainConfig(SavedConfig):
    """Options of one training run (``tumorscope train``; ``tumorscope cv`` runs one per fold), saved as its
    config.json. A str option left empty takes its task's default (see ``--help``)."""

    task: str = option("segmentation", "what the network predicts", Choices(TASKS))
    data: str = option("", "dataset folder (any layout `datasets inspect` recognises)", metavar="DIR")
    model: str = option("unet2d", "network (see `tumorscope models list --architectures`)")
    out: str = option("runs/run", "run folder to create (or resume)", metavar="RUN_DIR")
    epochs: int = option(40, "", POSITIVE)
    batch_size: int = option(16, "", POSITIVE)
    lr: float = option(2e-3, "AdamW learning rate (cosine schedule)", Interval(float, 0, None, "neither"))
    weight_decay: float = option(1e-4, "AdamW weight decay", Interval(float, 0))
    loss: str = option(TASK_DEFAULT, "training loss", Choices((*SEG_LOSSES, "ce"), (
        ("segmentation", SEG_LOSSES), ("classification", CLS_LOSSES))),
        task_defaults={"segmentation": "dicece", "classification": "ce"})
    width: int = option(16, "channels of the first network stage", POSITIVE)
    size: int = option(128, "network input size in pixels (square)", POSITIVE)
    channels: str = option(TASK_DEFAULT, "input channels (mri3 = pre-contrast, FLAIR, post-contrast)",
                           Choices(CHANNELS), task_defaults={"segmentation": "flair", "classification": "rgb"})
    normalization: str = option("percentile", "intensity normalisation", Choices(("percentile", "zscore", "none")))
    enhancement: str = option("none", "contrast enhancement", Choices(("none", "clahe", "histeq", "denoise")))
    crop: str = option("none", "classification: crop each image to the square box around the body part before "
                       "resizing", Choices(("none", "foreground")),
                       group="classification")
    augment: str = option("default", "augmentation level; classification also strong (wider rotation/scale/shift, "
                          "brightness and contrast)", Choices((*LEVELS, "strong")))
    seed: int = option(0, "random seed (split, initialisation, batches, augmentation)", Interval(int, 0))
    val_fraction: float = option(
        0.15, "patients held out for validation (model selection); classification: 0 trains on every image of the "
        "split's training part (all of them without --fold) and keeps the last epoch - the final model after a "
        "cross-validation has measured the recipe", FRACTION)
    folds: int = option(5, "folds of the patient-grouped k-fold split", Interval(int, 2))
    fold: int | None = option(None, "hold out this fold of a --folds k-fold as the test part", Interval(int, 0),
                              commands=("train", "tune"))
    splits: str | None = option(None, "use this splits.json instead of making a split", metavar="JSON")
    patience: int = option(10, _PATIENCE_HELP, Interval(int, 0))
    time_limit: float | None = option(None, "wall-clock budget, e.g. 30m or 1h; stops after that epoch",
                                      Interval(float, 0, None, "neither"), metavar="DURATION", duration=True)
    threads: int | None = option(None, "torch CPU threads (default: all cores; with --nproc, shared among the "
                                 "processes)", POSITIVE)
    nproc: int = option(1, "training processes on this machine (PyTorch DistributedDataParallel through torchrun, "
                        "docs/distributed.md); each step averages N x --batch-size images", POSITIVE,
                        commands=("train",), metavar="N")
    bf16: bool = option(True, "train in float32 even where the CPU computes bfloat16 natively (AVX512-BF16 / AMX); "
                        "elsewhere float32 is used anyway, emulated bf16 being ~14x slower (TUMORSCOPE_BF16=1 forces it)")
    ema: float = option(0.0, "keep an exponential moving average of the weights (e.g. 0.99 per step); validation, "
                        "the best checkpoint and the bundle use the average (0: off)", FRACTION, metavar="DECAY")
    keep: str = option(TASK_DEFAULT, _KEEP_HELP, Choices(("best", "last")),
                       group="classification", task_defaults={"segmentation": "best", "classification": "last"})
    precise_bn: bool = option(False, "classification: after training, recompute the kept network's BatchNorm "
                              "statistics over the un-augmented training images (training leaves averages of "
                              "augmented, mixed batches); --resume of a finished run with --precise-bn does only "
                              "this step", group="classification")
    init: str | None = option(None, "start from a local checkpoint (bundle folder or zoo name, run folder, state_dict "
                              ".pt or a `tumorscope pretrain` run); tensors are copied by name where shapes fit. "
                              "Fine-tuning keeps nothing else of it: give the options it was trained with "
                              "(--channels, --size, --width...)", metavar="CKPT")
    init_member: int | None = option(None, "with --init an ensemble bundle (e.g. lgg-flair-seg): start from this "
                                     "member, 0-based, in the order of its config.json's model.options.members",
                                     Interval(int, 0), metavar="K")
    freeze: int = option(0, "classification: freeze the first N stages (transfer learning)", Interval(int, 0))
    class_weights: str = option("none", "weighted loss", Choices(("none", "balanced")), group="classification")
    label_smoothing: float = option(0.0, "classification: cross-entropy label smoothing, e.g. 0.1 (0: off)",
                                    FRACTION, group="classification", metavar="EPS")
    mixup: float = option(0.0, "classification: mix each batch with a shuffled copy of itself, weight ~ "
                          "Beta(ALPHA, ALPHA), e.g. 0.2 (0: off)", Interval(float, 0), group="classification",
                          metavar="ALPHA")
    sampler: str = option("auto", "auto: class-balanced when the largest training class has >= 2x the images of "
                          "the smallest", Choices(("auto", "uniform", "balanced")), group="classification")
    dedup: bool = option(True, "classification: keep duplicate images (default: drop them before splitting)",
                         group="classification")
    select: str = option("univariate:50", "classical (--model svm|rf|gbm|logreg): feature selection univariate:K "
                         "(ANOVA F) | rfe:K | l1:C | mrmr:K | importance:K | none", group="classical",
                         metavar="METHOD:N")
    hparams: str = option("", "classical: estimator hyper-parameters overriding the small defaults, e.g. "
                          "C=10,gamma=0.01 (svm) or n_estimators=300,max_depth=8 (rf)", group="classical",
                          metavar="NAME=VALUE,...")
    features: str | None = option(None, "classical: a `tumorscope features` table of --data (.csv/.parquet) "
                                  "instead of extracting features into the run folder", group="classical",
                                  metavar="TABLE")
    roi: str = option("foreground", "classical: the ROI features are extracted from (one that exists at "
                      "prediction time; the expert mask only with a data.csv --target, e.g. grading the expert-"
                      "segmented tumor, never for tumor presence)", Choices(CLASSICAL_ROIS), group="classical")
    target: str = option("label", "classical: label (the layout's: tumor/no_tumor from the masks, per slice) or "
                         "a column of the dataset's data.csv (per patient, e.g. neoplasm_histologic_grade)",
                         group="classical", metavar="COLUMN")
    filters: str = option("wavelet,log", "classical: filtered images besides the original (wavelet, log, "
                          "wavelet,log or none)", group="classical")
    patient_relative: bool = option(False, "classical: add every feature relative to its patient's slices (minus "
                                    "the patient's median, over its interquartile range): MR intensities have no "
                                    "absolute unit; a slice is then scored with its patient's other slices",
                                    group="classical")

    # the order commands print options in (the cards' order since they were first written)
    ARGV_ORDER: ClassVar[tuple[str, ...]] = (
        "task", "data", "model", "width", "size", "channels", "normalization", "enhancement", "crop", "augment",
        "epochs", "patience", "batch_size", "lr", "weight_decay", "val_fraction", "folds", "fold", "seed", "loss",
        "label_smoothing", "mixup", "ema", "keep", "precise_bn", "class_weights", "sampler", "init", "init_member",
        "freeze", "time_limit", "threads", "nproc", "splits", "bf16", "dedup", "select", "hparams", "features", "roi",
        "target", "filters", "patient_relative")

    def __post_init__(self) -> None:
        resolve_task_defaults(self)
        check_fields(self)
        if self.task != "classification" and (self.keep != "best" or self.precise_bn):
            raise TumorscopeError("--keep and --precise-bn are classification options")
        if self.task != "classification" and (self.mixup or self.label_smoothing or self.augment == "strong"
                                              or self.crop != "none"):
            raise TumorscopeError("--mixup, --label-smoothing, --crop and --augment strong are classification options")
        if self.init_member is not None and not self.init:
            raise TumorscopeError("--init-member picks a member of the --init ensemble: give --init too")
        if self.fold is not None and self.fold >= self.folds:
            raise TumorscopeError(f"--fold must be in 0..{self.folds - 1}, got {self.fold}")
        self._check_classical()

    @property
    def classical(self) -> bool:
        """A scikit-learn model on radiomics features rather than a network."""
        return self.model in CLASSICAL_MODELS

    def _check_classical(self) -> None:
        if self.classical and self.task != "classification":
            raise TumorscopeError(f"--model {self.model} is a classifier on radiomics features: give --task "
                                  "classification")
        if not self.classical:
            changed = [name for name in _CLASSICAL if getattr(self, name) != type(self).__dataclass_fields__[name].default]
            if changed:
                raise TumorscopeError(f"--{changed[0]} is an option of the classical models "
                                      f"({' | '.join(CLASSICAL_MODELS)}), not of {self.model}")

    @classmethod
    def migrate(cls, d: dict[str, Any]) -> dict[str, Any]:
        """Configs saved before ``keep`` existed kept the best epoch; without a validation part (``val_fraction``
        0) a classifier always kept the last, whatever ``keep`` says; a classification config saved with the
        segmentation loss name trained with cross-entropy."""
        if d.get("task") == "classification" and d.get("val_fraction") == 0:
            d["keep"] = "last"
        d.setdefault("keep", "best")
        if d.get("task") == "classification" and d.get("loss") == "dicece":
            d["loss"] = "ce"
        return d
