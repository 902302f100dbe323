"""Starting a multi-process training run: ``tumorscope train --nproc N`` re-launches itself through torchrun.

Kept free of torch imports, so the launching process stays light; the workers set up the process group
(:mod:`tumorscope.train.distributed`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

# the variables torchrun gives each worker that torch.distributed's env:// initialisation reads
LAUNCHER_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """Whether this process is a worker started by torchrun (``torch.distributed.run``)."""
    return all(name in os.environ for name in LAUNCHER_ENV)


def local_processes() -> int:
    """Training processes on this machine: torchrun's LOCAL_WORLD_SIZE in a worker, else 1."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if launched() else 1


def cpu_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it, else all)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def threads_per_process(threads: int | None, local_processes: int) -> int | None:
    """Torch threads of each of ``local_processes`` training processes on one machine: ``threads`` (default: every
    core) divided among them, at least 1; ``None`` (torch's default) for a single process without ``--threads``."""
    if local_processes <= 1:
        return threads
    return max(1, (threads or cpu_cores()) // local_processes)


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node N -m tumorscope ARGV``: ``nproc`` workers on
    this machine, rendezvous on a free local port."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "tumorscope", *argv]


def launch(nproc: int, argv: Sequence[str], threads: int | None = None) -> int:
    """Run ``tumorscope ARGV`` in ``nproc`` processes through torchrun and return its exit code (non-zero when a
    worker failed). OMP_NUM_THREADS is each worker's share of the cores (torchrun would otherwise set 1)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads_per_process(threads, nproc)))
    return subprocess.run(torchrun_command(nproc, argv), env=env, check=False).returncode
