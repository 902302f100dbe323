"""The generic training loop: epochs, best checkpoint, early stopping, wall-clock budget, resume.

A task supplies ``train_epoch(epoch) -> dict`` (must include ``loss``) and ``validate() -> dict``
(must include ``score``, higher is better). The loop owns the run directory:
``checkpoint.pt`` (last state, atomic, for ``--resume``), ``best.pt`` (best weights),
``metrics.csv`` (one row per epoch) and ``training_curves.png``.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from tumorscope.atomic import atomic_path, write_json
from tumorscope.errors import TumorscopeError
from tumorscope.models.precision import compute_dtype, cpu_description
from tumorscope.train import distributed
from tumorscope.train.launch import local_processes, threads_per_process

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_run(cfg: Any) -> Path:
    """Common start of every training run: CPU threads (``--threads`` shared among the processes on this machine),
    seeds, the run folder and its ``config.json``. Returns the folder this process writes in (in a multi-process
    run, rank 0 alone writes the run folder: :func:`~tumorscope.train.distributed.output_dir`)."""
    threads = threads_per_process(cfg.threads, local_processes())
    if threads:
        torch.set_num_threads(threads)
    seed_everything(cfg.seed)
    run = distributed.output_dir(Path(cfg.out))
    run.mkdir(parents=True, exist_ok=True)
    write_json(run / "config.json", cfg.to_dict())
    return run


class WeightAverage:
    """An optional exponential moving average (EMA) of a model's weights and buffers (``decay`` 0 = off).

    Call :meth:`step` after every optimizer step; :attr:`scored` is the network that is validated, kept as
    ``best.pt`` and bundled (the average when on, else the trained model itself).
    """

    def __init__(self, model: torch.nn.Module, decay: float = 0.0) -> None:
        if not 0.0 <= decay < 1.0:
            raise TumorscopeError(f"--ema {decay}: the decay must be in [0, 1), e.g. 0.99 (0 = off)")
        self.model = model
        self.averaged = (
            AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True) if decay else None
        )

    @property
    def scored(self) -> torch.nn.Module:
        return self.averaged.module if self.averaged is not None else self.model

    def step(self) -> None:
        if self.averaged is not None:
            self.averaged.update_parameters(self.model)

    def state_dict(self) -> dict[str, Any] | None:
        return self.averaged.state_dict() if self.averaged is not None else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.averaged is not None and state is not None:
            self.averaged.load_state_dict(state)


def save_torch(obj: Any, path: Path) -> None:
    """torch.save, atomically."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    train_epoch: Callable[[int], dict[str, float]],
    validate: Callable[[], dict[str, float]],
    run_dir: Path,
    epochs: int,
    patience: int,
    time_limit: float | None = None,
    resume: bool = False,
    average: WeightAverage | None = None,
    bf16: bool = True,
    generators: Sequence[torch.Generator | np.random.Generator] = (),
    keep_last: bool = False,
) -> dict[str, Any]:
    """Train until ``epochs``, early stop (``patience`` epochs without a better score) or the time limit.

    With ``average`` (weight EMA), ``validate`` must score ``average.scored``; that network is what is kept
    as best and loaded into ``model`` at the end. ``generators``: the run's own random streams (batch order,
    augmentation, mixup), saved in the checkpoint with the global ones, so a resumed run draws what an
    uninterrupted one would. ``keep_last`` (``--keep last``, or no validation part): every epoch replaces the
    kept weights, so the last one is bundled and early stopping never triggers. The result records what the time was measured on: the
    dtype the convolutions ran in for the run's ``bf16`` request, and the CPU.

    In a multi-process run (:mod:`~tumorscope.train.distributed`) every process trains and reads the checkpoint;
    rank 0 alone validates (its metrics go to every process, so all stop at the same epoch) and writes."""
    average = average or WeightAverage(model)
    main, world = distributed.is_main(), distributed.world_size()
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / "checkpoint.pt"
    history: list[dict[str, float]] = []
    start_epoch, best, best_epoch, elapsed_before = 0, -float("inf"), -1, 0.0
    if resume:
        if not ckpt_path.exists():
            raise TumorscopeError("nothing to resume: no checkpoint.pt", run_dir)
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        average.load_state_dict(state.get("average"))
        history = state["history"]
        start_epoch, best, best_epoch = state["epoch"] + 1, state["best"], state["best_epoch"]
        elapsed_before = state.get("elapsed", 0.0)
        rng = _own_rng(state, world, run_dir)
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"])
        for g, saved in zip(generators, rng.get("generators", [])):
            _set_generator_state(g, saved)
        log.info("resumed from epoch %d (best score %.4f at epoch %d)", start_epoch, best, best_epoch)
    t0 = time.monotonic() - elapsed_before
    stop_reason = "epochs"
    for epoch in range(start_epoch, epochs):
        if not keep_last and best_epoch >= 0 and epoch - best_epoch > patience:
            stop_reason = "early_stopping"
            break
        model.train()
        row: dict[str, float] = {"epoch": float(epoch)}
        row.update({f"train_{k}": v for k, v in train_epoch(epoch).items()})
        model.eval()
        average.scored.eval()
        with torch.no_grad():
            row.update({f"val_{k}": v for k, v in distributed.from_main(validate).items()})
        if scheduler is not None:
            scheduler.step()
        row["lr"] = optimizer.param_groups[0]["lr"]
        row["elapsed_s"] = time.monotonic() - t0
        history.append(row)
        improved = keep_last or row["val_score"] > best
        if improved:
            best, best_epoch = row["val_score"], epoch
            if main:
                save_torch(average.scored.state_dict(), run_dir / "best.pt")
        rng = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
               "generators": [_generator_state(g) for g in generators]}
        rng_by_rank = distributed.gather(rng)  # each process's own streams, for --resume
        mark = "  *best*" if improved and not keep_last else ""  # with keep_last every epoch replaces the last
        log.info("epoch %d: loss %.4f  val score %.4f%s", epoch, row["train_loss"], row["val_score"], mark)
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "average": average.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "epoch": epoch,
            "best": best,
            "best_epoch": best_epoch,
            "history": history,
            "elapsed": row["elapsed_s"],
            "rng": rng,
            **({"rng_by_rank": rng_by_rank} if world > 1 else {}),
        }
        if main:
            save_torch(state, ckpt_path)
            write_history(history, run_dir)
        if time_limit is not None and distributed.from_main(lambda: time.monotonic() - t0 >= time_limit):
            stop_reason = "time_limit"
            break
    if best_epoch < 0:
        raise TumorscopeError("training produced no epoch (time limit too short?)", run_dir)
    replicas = {"distributed": distributed.describe(model)} if distributed.active() else {}
    if main:
        model.load_state_dict(torch.load(run_dir / "best.pt", map_location="cpu"))
    return replicas | {
        "best_score": best,
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "stop_reason": stop_reason,
        "train_seconds": history[-1]["elapsed_s"],
        "compute_dtype": compute_dtype(bf16),
        "cpu": cpu_description(),
        "history": history,
    }


def _own_rng(state: dict[str, Any], world: int, run_dir: Path) -> dict[str, Any]:
    """This process's random states in a checkpoint (rank 0's when it was written by another number of
    processes: the batch order continues, the augmentation streams of ranks above 0 then repeat rank 0's)."""
    by_rank = state.get("rng_by_rank", [state["rng"]])
    if len(by_rank) != world:
        log.warning("%s was written by %d process(es), resumed with %d: the run does not continue exactly",
                    run_dir / "checkpoint.pt", len(by_rank), world)
        return state["rng"]
    return by_rank[distributed.rank()]


def _generator_state(g: torch.Generator | np.random.Generator) -> Any:
    return g.get_state() if isinstance(g, torch.Generator) else g.bit_generator.state


def _set_generator_state(g: torch.Generator | np.random.Generator, state: Any) -> None:
    if isinstance(g, torch.Generator):
        g.set_state(state)
    else:
        g.bit_generator.state = state


def write_history(history: list[dict[str, float]], run_dir: Path) -> None:
    """metrics.csv and training_curves.png, both atomic."""
    keys = list(dict.fromkeys(k for row in history for k in row))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(history)
    with atomic_path(run_dir / "metrics.csv") as tmp:
        tmp.write_text(buf.getvalue())
    from tumorscope.report.plots import training_curves  # matplotlib: loaded when a run first draws

    training_curves(history, run_dir / "training_curves.png")
