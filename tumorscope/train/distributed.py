"""Data-parallel training in several processes (PyTorch DistributedDataParallel), as small hooks for the trainer.

Every process holds the whole training data and the same model; each epoch's batch order (drawn from the run's
seeded, checkpointed generator, identical in every process) is split into one shard per process
(``DistributedSampler`` without its own shuffling), DDP averages the gradients, so the weights stay identical.
Rank 0 alone validates (the score is broadcast, so every process stops at the same epoch) and writes the run
folder; the other ranks write anything else they produce into a private scratch folder. Training runs on the
CPU, so the backend is gloo (NCCL is the one for CUDA devices). Outside a torchrun worker every helper is a
no-op: one process trains exactly as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler, TensorDataset

from tumorscope.train.launch import cpu_cores, launched

T = TypeVar("T")
TIMEOUT = timedelta(hours=1)  # how long ranks wait for each other (rank 0 validates alone meanwhile)
_STREAM = 1_000_003  # seed offset of a process's own random streams
_scratch: tempfile.TemporaryDirectory[str] | None = None


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Whether this process reports and writes the run folder (rank 0, or the only process)."""
    return rank() == 0


def backend_for(device: str | torch.device) -> str:
    """The collective backend for a model on ``device``: NCCL for CUDA, gloo otherwise."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


@contextmanager
def session(device: str = "cpu") -> Iterator[None]:
    """Join the process group when started by torchrun (else do nothing); ranks above 0 log warnings only, show no
    progress bars and get a scratch folder (:func:`output_dir`). Leaves the group on exit."""
    global _scratch
    if not launched() or active():
        yield
        return
    dist.init_process_group(backend_for(device), timeout=TIMEOUT)
    quiet = logging.getLogger("tumorscope")
    level, progress = quiet.level, os.environ.get("TUMORSCOPE_PROGRESS")
    if rank() > 0:
        _scratch = tempfile.TemporaryDirectory(prefix=f"tumorscope-rank{rank()}-")
        quiet.setLevel(logging.WARNING)
        os.environ["TUMORSCOPE_PROGRESS"] = "0"
    try:
        yield
    finally:
        dist.destroy_process_group()
        if _scratch is not None:
            _scratch.cleanup()
            _scratch = None
            quiet.setLevel(level)
            os.environ.pop("TUMORSCOPE_PROGRESS")
            if progress is not None:
                os.environ["TUMORSCOPE_PROGRESS"] = progress


def output_dir(run: Path) -> Path:
    """Where this process writes what a run leaves: ``run`` for rank 0, a private scratch folder for the others."""
    return Path(_scratch.name) if _scratch is not None else run


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module the training steps call: ``model`` wrapped in DDP (gradients averaged over the processes at
    every backward) inside a process group, else ``model`` itself."""
    return DistributedDataParallel(model) if active() else model


def shard(order: torch.Tensor, replicas: tuple[int, int] | None = None) -> torch.Tensor:
    """A process's share of an epoch's sample ``order`` (indices into the data): every ``world_size``-th one, the
    order padded by its first indices to a multiple of the world size, so every process takes the same number of
    batches (``DistributedSampler``'s rule). ``replicas``: (world size, rank), by default this process's."""
    world, r = replicas or (world_size(), rank())
    if world == 1:
        return order
    picks: list[int] = list(DistributedSampler(TensorDataset(order), num_replicas=world, rank=r, shuffle=False))
    return order[torch.tensor(picks, dtype=torch.long)]


def all_sum(values: Sequence[float]) -> list[float]:
    """``values`` summed over the processes (themselves when alone)."""
    if not active():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def from_main(compute: Callable[[], T]) -> T:
    """``compute()`` run by rank 0 alone, its (picklable) result handed to every process."""
    if not active():
        return compute()
    box = [compute() if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[return-value]


def gather(value: T) -> list[T]:
    """Every process's ``value``, in rank order."""
    if not active():
        return [value]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, value)
    return out


def own_streams(generators: Sequence[torch.Generator | np.random.Generator], of_rank: int | None = None) -> None:
    """Reseed ``generators`` (augmentation, mixup) so each process (``of_rank``, by default this one) draws its own
    stream; rank 0 keeps its seed."""
    r = rank() if of_rank is None else of_rank
    if not r:
        return
    for g in generators:
        if isinstance(g, torch.Generator):
            g.manual_seed(g.initial_seed() + _STREAM * r)
        else:
            seq = g.bit_generator.seed_seq
            entropy = seq.entropy if isinstance(seq, np.random.SeedSequence) else 0
            g.bit_generator.state = type(g.bit_generator)(np.random.SeedSequence(entropy, spawn_key=(r,))).state


def stream_key() -> tuple[int, ...]:
    """Appended to a per-epoch seed so each process samples its own stream; empty for one process."""
    return (rank(),) if world_size() > 1 else ()


def finish_alone(threads: int | None) -> None:
    """After a multi-process training the other processes are done: rank 0 takes the machine's threads back."""
    if world_size() > 1:
        torch.set_num_threads(threads or cpu_cores())


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of the parameters (names and float32 values): DDP keeps it equal in every process."""
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def describe(model: torch.nn.Module) -> dict[str, Any]:
    """What a multi-process run records (world size, backend, every rank's weights digest); collective."""
    digests = gather(weights_digest(model))
    return {"world_size": world_size(), "backend": dist.get_backend(), "replica_weights_sha256": digests}
