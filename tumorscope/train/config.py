"""Run configurations (training, self-supervised pretraining): dataclasses saved as each run's ``config.json``."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Self, cast

from tumorscope.errors import TumorscopeError

PRETRAIN_SUMMARY = "pretrain_summary.json"  # what marks a `tumorscope pretrain` run folder


def is_pretrain_run(path: str | Path | None) -> bool:
    """Whether ``path`` is a finished ``tumorscope pretrain`` run (usable as ``--init``)."""
    return bool(path) and (Path(str(path)) / PRETRAIN_SUMMARY).exists()


class SavedConfig:
    """A run's options as a dataclass, saved as its ``config.json``: to_dict / from_dict / load."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(cast(Any, self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cast(Any, cls))}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def load(cls, path: Path) -> Self:
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass
class TrainConfig(SavedConfig):
    task: str = "segmentation"
    data: str = ""
    model: str = "unet2d"
    out: str = "runs/run"
    epochs: int = 40
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    loss: str = "dicece"
    width: int = 16
    size: int = 128
    channels: str = "flair"
    normalization: str = "percentile"
    enhancement: str = "none"
    crop: str = "none"  # classification: none | foreground (square box around the body part)
    augment: str = "default"
    seed: int = 0
    val_fraction: float = 0.15
    folds: int = 5
    fold: int | None = None  # which CV fold is held out as test; None = train on everything
    splits: str | None = None  # a splits.json to use instead of making one
    patience: int = 10
    time_limit: float | None = None  # seconds
    threads: int | None = None
    bf16: bool = True
    ema: float = 0.0  # exponential moving average of the weights per step (0 = off), e.g. 0.99
    keep: str = "best"  # classification: the epoch bundled, best (validation score) | last (the CLI's default;
    # "best" here so that a run saved before --keep existed loads as what it did)
    precise_bn: bool = False  # classification: recompute BatchNorm statistics on the clean training images at the end
    init: str | None = None  # a local checkpoint (state_dict or bundle) to start from
    freeze: int = 0  # freeze the first N stages (classification transfer learning)
    class_weights: str = "none"  # none | balanced
    label_smoothing: float = 0.0  # classification cross-entropy label smoothing (0 = off)
    mixup: float = 0.0  # classification mixup: Beta(alpha, alpha) mixing weight per batch (0 = off)
    sampler: str = "auto"  # auto | uniform | balanced (auto: balanced when classes are >= 2:1 imbalanced)
    dedup: bool = True


@dataclass
class PretrainConfig(SavedConfig):
    """Options of `tumorscope pretrain` (contrastive self-supervised pretraining), saved as config.json."""

    data: list[str] = field(default_factory=list)
    out: str = "runs/pretrain"
    model: str = "resnet18"
    width: int = 32
    size: int = 128
    channels: str = "gray"
    normalization: str = "percentile"
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2
    val_fraction: float = 0.1
    patience: int = 20
    time_limit: float | None = None
    seed: int = 0
    threads: int | None = None
    bf16: bool = True


def parse_duration(text: str | None) -> float | None:
    """``90`` (seconds), ``30s``, ``30m``, ``1.5h`` -> seconds."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
    if not m:
        raise TumorscopeError(f"cannot read duration {text!r}: use e.g. 90, 30s, 30m or 1.5h")
    return float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[m[2]]
