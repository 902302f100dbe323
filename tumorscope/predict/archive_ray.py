"""The ``ray`` engine of archive prediction: Ray Data shards the case list into blocks and streams them through a
fixed pool of actors (``concurrency = workers``), each loading the model once and predicting batches of cases
with :class:`~tumorscope.predict.archive_worker.CasePredictor`. Every node reads its own cases and writes
``OUT/<case>/`` itself, so on a cluster the inputs and OUT must be on storage all nodes share (see docs/scale.md).
Ray is imported only here, when ``--engine ray`` is used."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.predict.archive_worker import Case, CasePredictor, Settings


class RayPredictor:
    """A Ray Data callable class: one per actor, so one model load per worker."""

    def __init__(self, settings: Settings, out: str) -> None:
        self.predict = CasePredictor(settings)
        self.out = Path(out)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        cases = [(str(n), str(p)) for n, p in zip(batch["case"], batch["path"])]
        rows = self.predict(cases, self.out)  # rows travel as JSON text: their fields may be None
        return {"row": np.array([json.dumps(r) for r in rows], dtype=object)}


def connect(address: str | None) -> Any:
    """ray, connected: to ``address`` (``auto``: the cluster ``ray start`` started here), or to the session
    already open in this process, or to a new local instance."""
    try:
        import ray
    except ImportError as exc:
        raise TumorscopeError("--engine ray needs Ray: pip install 'tumorscope[scale]'") from exc
    if not ray.is_initialized():
        try:  # "local": a new instance, even where a `ray start` cluster (running or stale) is recorded in /tmp/ray
            ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise TumorscopeError(f"cannot connect to the Ray cluster at {address}: {exc}") from exc
    return ray


def run_ray(cases: list[Case], out: Path, settings: Settings, workers: int, batch_size: int,
            address: str | None = None, threads: int | None = None) -> Iterator[dict[str, Any]]:
    """Predict the cases on Ray; yields result rows as they stream back. Each actor reserves cluster CPUs /
    workers CPUs and runs ``threads`` torch threads (default: as many as its CPUs)."""
    ray = connect(address)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    per_worker = max(1, cpus // workers)  # CPUs Ray reserves for each actor
    ray.data.DataContext.get_current().enable_progress_bars = False  # the CLI prints a line per case
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    items = [{"case": name, "path": path} for name, path in cases]
    ds = ray.data.from_items(items, override_num_blocks=min(len(items), workers * 4))
    results = ds.map_batches(
        RayPredictor, fn_constructor_args=(replace(settings, threads=threads or per_worker), str(out.resolve())),
        batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=per_worker, batch_format="numpy",
    )
    for row in results.iter_rows():
        yield json.loads(row["row"])
