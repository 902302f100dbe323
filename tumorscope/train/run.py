"""``run_training``: one training run of any task, from its config (what ``train`` and ``cv`` call per run)."""

from __future__ import annotations

from typing import Any

from tumorscope.errors import TumorscopeError
from tumorscope.options import TrainConfig
from tumorscope.train import distributed
from tumorscope.train.classification import train_classification
from tumorscope.train.segmentation import train_segmentation


def run_training(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Train ``cfg`` (segmentation: 2-D or 3-D by the model; classification) into ``cfg.out``; in a torchrun
    worker as one process of a DistributedDataParallel run (the summary is rank 0's, empty elsewhere)."""
    if cfg.task != "classification" and (cfg.keep != "best" or cfg.precise_bn):
        raise TumorscopeError("--keep and --precise-bn are classification options")
    if cfg.classical:  # scikit-learn on radiomics features: one process, no torch
        from tumorscope.train.classical import train_classical

        return train_classical(cfg)
    train = train_segmentation if cfg.task == "segmentation" else train_classification
    with distributed.session():
        return train(cfg, resume=resume)
