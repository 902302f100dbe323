"""The options of ``tumorscope pretrain`` (contrastive self-supervised pretraining)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tumorscope.options.saved import SavedConfig
from tumorscope.options.spec import Choices, Interval, check_fields, option

POSITIVE = Interval(int, 1)


@dataclass
class PretrainConfig(SavedConfig):
    """Options of `tumorscope pretrain` (contrastive self-supervised pretraining), saved as config.json."""

    data: list[str] = option([], "one or more image dataset folders (any layout)", metavar="DIR", nargs="+")
    out: str = option("runs/pretrain", "run folder to create (or resume)", metavar="RUN_DIR")
    model: str = option("resnet18", "classifier architecture to pretrain (as in train)")
    width: int = option(32, "channels of the first network stage", POSITIVE)
    size: int = option(128, "network input size in pixels (square)", POSITIVE)
    channels: str = option("gray", "must match the fine-tuning run", Choices(("gray", "rgb")))
    normalization: str = option("percentile", "intensity normalisation", Choices(("percentile", "zscore", "none")))
    epochs: int = option(100, "", POSITIVE)
    batch_size: int = option(64, "images per batch (2 views each)", Interval(int, 2))
    lr: float = option(1e-3, "AdamW learning rate", Interval(float, 0, None, "neither"))
    weight_decay: float = option(1e-4, "AdamW weight decay", Interval(float, 0))
    temperature: float = option(0.2, "NT-Xent temperature", Interval(float, 0, None, "neither"))
    val_fraction: float = option(0.1, "images held out to score the contrastive loss (early stopping)",
                                 Interval(float, 0, 1, "left"))
    patience: int = option(20, "epochs without a better validation loss before stopping", POSITIVE)
    time_limit: float | None = option(None, "wall-clock budget, e.g. 30m", Interval(float, 0, None, "neither"),
                                      metavar="DURATION", duration=True)
    seed: int = option(0, "random seed", Interval(int, 0))
    threads: int | None = option(None, "torch CPU threads (default: all cores)", POSITIVE)
    bf16: bool = option(True, "train in float32 even where the CPU computes bfloat16 natively")

    ARGV_ORDER: ClassVar[tuple[str, ...]] = (
        "data", "model", "width", "size", "channels", "epochs", "batch_size", "lr", "temperature", "time_limit",
        "seed", "threads")

    def __post_init__(self) -> None:
        check_fields(self)
