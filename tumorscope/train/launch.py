"""Starting a multi-process training run: ``tumorscope train --nproc N`` re-launches itself through torchrun's
launcher; the workers set up the process group (:mod:`tumorscope.train.distributed`). Torch is imported only
to launch, so the option checks before it stay light.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
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


def launch(nproc: int, argv: Sequence[str], threads: int | None = None, quiet: bool = True) -> int:
    """Run ``tumorscope ARGV`` in ``nproc`` worker processes on this machine with torchrun's launcher (as
    ``torchrun --standalone --nproc-per-node N -m tumorscope ARGV``: rendezvous on a free local port, no restarts);
    return 0, or the exit code of the first worker that failed (its own error line is all that is printed).
    OMP_NUM_THREADS is each worker's share of the cores (torchrun would set 1). ``quiet``: the launcher's own log
    lines (workers stopped, exit codes) are left out."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0)
    if quiet:
        logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    omp = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads_per_process(threads, nproc))  # the workers inherit it
    try:
        elastic_launch(config, sys.executable)("-m", "tumorscope", *argv)
    except ChildFailedError as exc:
        code = exc.get_first_failure()[1].exitcode
        return code if code > 0 else 1  # killed by a signal: a negative code
    finally:
        os.environ.pop("OMP_NUM_THREADS")
        if omp is not None:
            os.environ["OMP_NUM_THREADS"] = omp
    return 0
