"""What a worker of archive prediction does, whatever the engine: :class:`CasePredictor` loads the model once and
predicts batches of cases into ``OUT/<case>/`` (one result row each, an error row for a bad case); and the
``local`` engine, which runs it in this process or in ``--workers`` processes. The Ray engine is
:mod:`tumorscope.predict.archive_ray`; the driver (listing, skipping, the summary) is
:mod:`tumorscope.predict.archive`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError, display_path

Case = tuple[str, str]  # (name of its output folder, input path)


@dataclass(frozen=True)
class Settings:
    """What every worker needs to build its predictor: the model and the post-processing changes."""

    model: str
    changes: dict[str, Any] = field(default_factory=dict)  # PostProcess fields set on the command line
    threads: int | None = None  # torch threads per worker (None: leave the default)


def result_row(name: str, path: str, status: str, summary: dict[str, Any] | None = None,
               seconds: float | None = None, error: str = "") -> dict[str, Any]:
    """One line of archive.csv."""
    s = summary or {}
    return {"case": name, "input": path, "status": status, "tumor_found": s.get("tumor_found"),
            "probability": s.get("probability"), "volume_pixels": s.get("volume_pixels"),
            "volume_mm3": s.get("volume_mm3"), "n_components": s.get("n_components"),
            "n_slices": s.get("n_slices"), "seconds": None if seconds is None else round(seconds, 3), "error": error}


def _problem(exc: Exception, path: str) -> str:
    """One line naming the case and what went wrong with it."""
    if isinstance(exc, TumorscopeError):
        return str(exc) if exc.path is not None else f"{display_path(path)}: {exc}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{display_path(path)}: {type(exc).__name__}: {text}"


class CasePredictor:
    """One model load; called with batches of cases, predicts and writes each into ``out/<case>/``.

    Each case runs through the model alone (its slices batched as in a single ``predict``), so its result never
    depends on which cases share its batch: an interrupted and resumed run gives what one run gives."""

    def __init__(self, settings: Settings) -> None:
        from tumorscope.bundle import load_bundle

        if settings.threads:
            import torch

            torch.set_num_threads(settings.threads)
        self.bundle = load_bundle(settings.model)
        if self.bundle.task != "segmentation":
            raise TumorscopeError("archive prediction runs segmentation models", Path(settings.model))
        self.post = replace(self.bundle.postprocess, **settings.changes)
        self.bundle.model  # noqa: B018 - load the weights once, here, not in the first batch

    def __call__(self, cases: list[Case], out: Path) -> list[dict[str, Any]]:
        return [self.one(name, path, out) for name, path in cases]

    def one(self, name: str, path: str, out: Path) -> dict[str, Any]:
        """Predict one case into ``out/<name>/``; a case that fails gives an error row, never an exception."""
        from tumorscope.predict.inputs import read_input
        from tumorscope.predict.outputs import write_segmentation_result
        from tumorscope.predict.segmentation import segment

        start = time.perf_counter()
        try:
            inp = read_input(path)
            prob, mask = segment(self.bundle, inp, self.post)
            summary = write_segmentation_result(self.bundle, inp, prob, mask, out / name, self.post)
        except Exception as exc:  # noqa: BLE001 - a bad case must not stop the others
            return result_row(name, path, "error", error=_problem(exc, path))
        return result_row(name, path, "done", summary, seconds=time.perf_counter() - start)


_WORKER: CasePredictor | None = None


def _init_worker(settings: Settings) -> None:
    global _WORKER
    _WORKER = CasePredictor(settings)


def _run_batch(cases: list[Case], out: Path) -> list[dict[str, Any]]:
    assert _WORKER is not None
    return _WORKER(cases, out)


def batches(cases: list[Case], size: int) -> list[list[Case]]:
    return [cases[i : i + size] for i in range(0, len(cases), size)]


def run_local(cases: list[Case], out: Path, settings: Settings, workers: int = 1, batch_size: int = 4
              ) -> Iterator[dict[str, Any]]:
    """Predict the cases on this machine: in this process (one worker) or ``workers`` processes, each loading
    the model once. Yields result rows as batches finish."""
    if workers <= 1:
        predictor = CasePredictor(settings)
        for batch in batches(cases, batch_size):
            yield from predictor(batch, out)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(settings,)) as pool:
        futures = [pool.submit(_run_batch, batch, out) for batch in batches(cases, batch_size)]
        for future in as_completed(futures):
            yield from future.result()
