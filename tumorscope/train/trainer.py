"""One trainer for every task: :meth:`Trainer.run` calls small hooks a task subclass overrides.

As nnU-Net v2's ``nnUNetTrainer``: a recipe variant is a subclass that overrides one hook (the loss, the
optimiser, a step), the rest is shared. ``run`` checks the options (before any data is read), starts the run
folder, loads the data, builds model / optimiser / schedule / weight average / loss / augmentation, hands
``train_epoch`` and ``validate`` to :func:`~tumorscope.train.loop.fit` (best / last checkpoint, early stopping,
time limit, resume, metrics.csv) and finally calls :meth:`finish` (bundle, held-out scores, summary).

Hooks, in call order: ``check``, ``load_data``, ``build_model``, ``build_optimizer``, ``build_scheduler``,
``build_loss``, ``build_augment``; per epoch ``start_epoch``, ``batches``, then per batch ``train_step`` (the loss
and its weight in the epoch mean) and ``clip_gradients``; ``validate`` after each epoch; at the end ``finish``,
which usually calls ``bundle_config``.

Several processes (``--nproc``, :mod:`~tumorscope.train.distributed`): ``train_step`` runs ``self.net`` (the model
in DistributedDataParallel), ``batches`` keeps this process's ``distributed.shard`` of the epoch's order, and rank
0 alone validates, writes the run folder and calls ``finish``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tumorscope.preprocess.augment import Compose
from tumorscope.progress import progress
from tumorscope.train import distributed
from tumorscope.train.loop import WeightAverage, fit, start_run

Generator = torch.Generator | np.random.Generator


class Trainer:
    """The shared skeleton; ``cfg`` is a run config (TrainConfig or PretrainConfig)."""

    def __init__(self, cfg: Any, resume: bool = False) -> None:
        self.cfg, self.resume = cfg, resume
        self.run_dir = Path(cfg.out)
        self.generator = torch.Generator().manual_seed(cfg.seed)  # batch order (and other per-run draws)
        self.augment: Compose | None = None

    # ---- hooks -------------------------------------------------------------------------------------------
    def check(self) -> None:
        """Refuse bad options before anything is read or written."""

    def load_data(self) -> None:
        """Read the training / validation (/ test) data into attributes."""
        raise NotImplementedError

    def build_model(self) -> torch.nn.Module:
        raise NotImplementedError

    def build_optimizer(self) -> torch.optim.Optimizer:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)

    def build_scheduler(self) -> Any:
        return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=self.cfg.epochs)

    def build_loss(self) -> Callable[..., torch.Tensor]:
        raise NotImplementedError

    def build_augment(self) -> Compose | None:
        return None

    def start_epoch(self, epoch: int) -> None:
        """Called before each epoch's batches (e.g. to reseed per-epoch sampling or keep frozen norms in eval)."""

    def batches(self, epoch: int) -> Sequence[Any]:
        raise NotImplementedError

    def train_step(self, batch: Any) -> tuple[torch.Tensor, float]:
        """The loss of one batch and its weight in the epoch's mean loss (usually the batch size)."""
        raise NotImplementedError

    def clip_gradients(self) -> None:
        """Between backward and the optimiser step (nothing by default)."""

    def validate(self) -> dict[str, float]:
        """Validation metrics of ``self.average.scored``; ``score`` (higher is better) selects the kept epoch."""
        raise NotImplementedError

    def generators(self) -> tuple[Generator, ...]:
        """The run's own random streams, checkpointed so ``--resume`` continues them. The first, the batch order,
        is the same in every process; the others (augmentation, mixup) get their own per process."""
        own = (self.augment.generator,) if self.augment is not None else ()
        return (self.generator, *own)

    def keep_last(self) -> bool:
        """Whether every epoch replaces the kept weights (no selection, no early stopping)."""
        return False

    def bundle_config(self, result: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def finish(self, result: dict[str, Any]) -> dict[str, Any]:
        """After training (``self.model`` holds the kept weights): write what the run leaves; return its summary."""
        raise NotImplementedError

    # ---- driver ------------------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict[str, float]:
        self.start_epoch(epoch)
        batches = self.batches(epoch)
        total, seen = 0.0, 0.0
        for batch in progress(batches, desc=f"epoch {epoch}", total=len(batches)):
            loss, weight = self.train_step(batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.clip_gradients()
            self.optimizer.step()
            self.average.step()
            total, seen = total + float(loss.detach()) * weight, seen + weight
        total, seen = distributed.all_sum([total, seen])  # the mean over every process's batches
        return {"loss": total / max(seen, 1)}

    def run(self) -> dict[str, Any]:
        """Train and finish the run; its summary (empty in processes other than rank 0)."""
        self.check()
        self.run_dir = start_run(self.cfg)
        self.load_data()
        self.model = self.build_model()
        self.net = distributed.wrap(self.model)  # what train_step runs
        self.optimizer = self.build_optimizer()
        self.scheduler = self.build_scheduler()
        self.average = WeightAverage(self.model, getattr(self.cfg, "ema", 0.0))
        self.loss_fn = self.build_loss()
        self.augment = self.build_augment()
        distributed.own_streams(self.generators()[1:])
        result = fit(self.model, self.optimizer, self.scheduler, self.train_epoch, self.validate, Path(self.cfg.out),
                     self.cfg.epochs, self.cfg.patience, self.cfg.time_limit, self.resume, average=self.average,
                     bf16=self.cfg.bf16, generators=self.generators(), keep_last=self.keep_last())
        if not distributed.is_main():
            return {}  # rank 0 finishes the run and reports
        distributed.finish_alone(self.cfg.threads)
        return self.finish(result)


def training_result(result: dict[str, Any]) -> dict[str, Any]:
    """fit's result without the per-epoch history (that is in metrics.csv)."""
    return {k: v for k, v in result.items() if k != "history"}
