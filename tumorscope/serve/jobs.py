"""The job queue: predictions persist in the database and are run by a bounded pool of worker threads.

Each job is claimed with a compare-and-set (``queued`` -> ``running``), its outputs are written into
``DATA_DIR/results/<id>`` atomically, then marked ``done`` (again compare-and-set) in the same transaction
as its audit event. After a crash (kill -9), :meth:`Runner.recover` finishes a job whose result folder is
complete and puts every other ``running`` job back in the queue: each job completes exactly once.
Single-slice jobs of one model waiting together run as one batch (:func:`segment_many`). A segmentation's
result folder also holds the viewer's volumes (:mod:`~tumorscope.serve.volumes`) and, for a job submitted with
``explain``, its heatmap (:mod:`~tumorscope.serve.heatmaps`), in the same atomic write.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from tumorscope.bundle import Bundle
from tumorscope.errors import TumorscopeError
from tumorscope.predict.inputs import PredictInput
from tumorscope.serve.audit import record, safe_summary
from tumorscope.serve.db import Prediction, utcnow
from tumorscope.serve.errors import ServiceError
from tumorscope.serve.heatmaps import Heatmaps
from tumorscope.serve.models import ModelStore, model_version, weights_sha256
from tumorscope.serve.settings import Settings
from tumorscope.serve.uploads import UNPACKED, StoredUpload, prepare_input, read_upload, stored_upload

log = logging.getLogger(__name__)
BATCH = 8  # single-slice jobs of one model run together, at most this many
SUMMARY = "summary.json"


class Runner:
    """Runs queued predictions on ``settings.workers`` threads; :meth:`submit` adds one."""

    def __init__(self, settings: Settings, engine: Engine, models: ModelStore, observe: Any = None) -> None:
        self.settings, self.engine, self.models = settings, engine, models
        self.observe = observe  # called as observe(bundle, inp, prob, mask, summary) after each computed job
        self._wake = threading.Condition()
        self._stop = False
        self._threads: list[threading.Thread] = []
        self._inputs: dict[str, PredictInput] = {}  # read at submission, so the worker need not read again
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()
        self.on_finish: list[Any] = []  # callbacks (model, outcome) for metrics
        self.heatmaps = Heatmaps()

    # lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        for i in range(self.settings.workers):
            t = threading.Thread(target=self._work, name=f"tumorscope-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout=30)

    def recover(self) -> None:
        """After a crash: a ``running`` job whose result folder is complete is finished from it; the others
        are queued again."""
        with Session(self.engine) as s:
            running = s.scalars(select(Prediction).where(Prediction.status == "running")).all()
            ids = [(p.id, p.result_dir) for p in running]
        for pid, result_dir in ids:
            summary_file = self.settings.results / result_dir / SUMMARY
            if summary_file.is_file():
                self._finish(pid, "done", json.loads(summary_file.read_text()), None)
            else:
                with Session(self.engine) as s, s.begin():
                    s.execute(update(Prediction).where(Prediction.id == pid, Prediction.status == "running")
                              .values(status="queued"))
        if ids:
            log.info("recovered %d interrupted job(s)", len(ids))

    # submission -----------------------------------------------------------------------------------------
    def submit(self, user: str, upload: StoredUpload, inp: PredictInput | None, bundle: Bundle,
               options: dict[str, Any]) -> Prediction:
        """Queue a prediction, or answer it from the stored result of the same bytes and model version."""
        pid = uuid.uuid4().hex
        version, sha = model_version(bundle), weights_sha256(bundle)
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            same = s.scalar(select(Prediction).where(
                Prediction.input_sha256 == upload.sha256, Prediction.model == bundle.name,
                Prediction.weights_sha256 == sha, Prediction.status == "done", Prediction.answered_from.is_(None))
                .order_by(Prediction.created_at).limit(1))
            if same is not None and same.options != options:
                same = None
            pred = Prediction(id=pid, status="queued", model=bundle.name, model_version=version,
                              weights_sha256=sha, input_sha256=upload.sha256, input_kind=upload.kind,
                              options=options, user=user, attempts=0, result_dir=pid)
            if same is not None:
                pred.status, pred.result, pred.result_dir = "done", same.result, same.result_dir
                pred.answered_from, pred.finished_at = same.id, utcnow()
            s.add(pred)
            record(s, user, "upload", pred)
            if same is not None:
                record(s, user, "prediction", pred, safe_summary(same.result), comment=f"answered from {same.id}")
        if same is None:
            if inp is not None:
                with self._lock:
                    self._inputs[pid] = inp
            with self._wake:
                self._wake.notify()
        else:
            for cb in self.on_finish:
                cb(bundle.name, "done")
        return pred

    def queue_length(self) -> int:
        with Session(self.engine) as s:
            return int(s.scalar(select(func.count()).where(Prediction.status == "queued")) or 0)

    async def wait(self, pid: str, timeout: float) -> None:
        """Return when ``pid`` is done or failed, or after ``timeout`` seconds."""
        ev = asyncio.Event()
        entry = (asyncio.get_running_loop(), ev)
        with self._lock:
            self._waiters.setdefault(pid, []).append(entry)
        try:
            if await asyncio.to_thread(self._status, pid) in ("done", "failed"):
                return
            await asyncio.wait_for(ev.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                waiting = self._waiters.get(pid, [])
                if entry in waiting:
                    waiting.remove(entry)
                if not waiting:
                    self._waiters.pop(pid, None)

    def _status(self, pid: str) -> str | None:
        with Session(self.engine) as s:
            return s.scalar(select(Prediction.status).where(Prediction.id == pid))

    # work -----------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._wake:
                if self._stop:
                    return
            try:
                jobs = self._claim()
            except Exception:  # the database went away for a moment: try again, never lose the worker
                log.exception("cannot claim jobs")
                jobs = []
            if not jobs:
                with self._wake:
                    if not self._stop:
                        self._wake.wait(timeout=1.0)
                continue
            try:
                self._run(jobs)
            except Exception:  # never lose the worker; the jobs are marked failed
                log.exception("worker error")
                for job in jobs:
                    self._finish(job.id, "failed", None, "internal error while predicting")

    def _claim(self) -> list[Prediction]:
        """Up to BATCH queued jobs of the oldest job's model (one for a model that needs whole inputs)."""
        with Session(self.engine, expire_on_commit=False) as s:
            queued = s.scalars(select(Prediction).where(Prediction.status == "queued")
                               .order_by(Prediction.created_at).limit(BATCH * 4)).all()
        claimed: list[Prediction] = []
        for job in queued:
            if claimed and (job.model != claimed[0].model or "zip" in (job.input_kind, claimed[0].input_kind)):
                continue
            with self.engine.begin() as conn:  # compare-and-set: another worker may have taken it
                ok = conn.execute(update(Prediction).where(Prediction.id == job.id, Prediction.status == "queued")
                                  .values(status="running", started_at=utcnow(),
                                          attempts=Prediction.attempts + 1)).rowcount
            if ok:
                claimed.append(job)
            if len(claimed) >= BATCH:
                break
        return claimed

    def _upload(self, job: Prediction) -> StoredUpload:
        return stored_upload(self.settings.uploads, job.input_sha256, job.input_kind)

    def _input(self, job: Prediction) -> PredictInput:
        with self._lock:
            inp = self._inputs.pop(job.id, None)
        if inp is None:
            inp = read_upload(self._upload(job), series_uid=job.options.get("series"))
        return inp

    def _run(self, jobs: list[Prediction]) -> None:
        try:
            bundle = self.models.get(jobs[0].model)
        except ServiceError as exc:
            for job in jobs:
                self._finish(job.id, "failed", None, exc.message)
            return
        if bundle.task != "segmentation":
            for job in jobs:
                self._classify(bundle, job)
            return
        from tumorscope.predict.segmentation import segment_many

        ready: list[tuple[Prediction, PredictInput]] = []
        for job in jobs:
            try:
                ready.append((job, self._input(job)))
            except (ServiceError, TumorscopeError, OSError) as exc:
                self._finish(job.id, "failed", None, _message(exc, self.settings))
        if not ready:
            return
        post = bundle.postprocess
        try:
            results = segment_many(bundle, [inp for _, inp in ready], post)
        except TumorscopeError as exc:  # one bad input: run them one by one to fail only that one
            if len(ready) == 1:
                self._finish(ready[0][0].id, "failed", None, _message(exc, self.settings))
                return
            for job, _ in ready:
                self._run([job])
            return
        for (job, inp), (prob, mask) in zip(ready, results):
            self._write_segmentation(bundle, job, inp, prob, mask)

    def _write_segmentation(self, bundle: Bundle, job: Prediction, inp: PredictInput, prob: Any, mask: Any) -> None:
        from tumorscope.predict.outputs import write_segmentation_result
        from tumorscope.serve.volumes import write_viewer

        shown = replace(inp, path=Path(_relative(inp.path, self.settings.uploads / job.input_sha256)))
        method = job.options.get("explain")
        try:
            heat, explained = self.heatmaps.volume(bundle, inp, method) if method else (None, None)
            summary = write_segmentation_result(
                bundle, shown, prob, mask, self.settings.results / job.result_dir, bundle.postprocess,
                extra=lambda folder, _summary: write_viewer(folder, inp, mask, heat, method, explained))
        except (TumorscopeError, OSError) as exc:
            self._finish(job.id, "failed", None, _message(exc, self.settings))
            return
        if self.observe is not None:
            self.observe(bundle, inp, prob, mask, None)
        self._finish(job.id, "done", summary, None)

    def _classify(self, bundle: Bundle, job: Prediction) -> None:
        from tumorscope.predict.outputs import write_classification

        try:
            upload = self._upload(job)
            path = prepare_input(upload)
            summary = write_classification(bundle, path, self.settings.results / job.result_dir,
                                           relative_to=upload.folder, quiet=True)
        except (ServiceError, TumorscopeError, OSError) as exc:
            self._finish(job.id, "failed", None, _message(exc, self.settings))
            return
        with self._lock:
            inp = self._inputs.pop(job.id, None)
        if self.observe is not None and inp is not None:
            self.observe(bundle, inp, None, None, summary)
        self._finish(job.id, "done", summary, None)

    def _finish(self, pid: str, status: str, summary: dict[str, Any] | None, error: str | None) -> None:
        with Session(self.engine) as s, s.begin():
            changed = s.connection().execute(
                update(Prediction).where(Prediction.id == pid, Prediction.status == "running")
                .values(status=status, result=summary, error=error, finished_at=utcnow())).rowcount
            if changed:
                pred = s.get(Prediction, pid)
                record(s, "worker", "prediction", pred, safe_summary(summary), comment=error)
                model = pred.model if pred is not None else "?"
        if changed:
            for cb in self.on_finish:
                cb(model, status)
        with self._lock:
            waiting = self._waiters.get(pid, [])
            for loop, ev in waiting:
                loop.call_soon_threadsafe(ev.set)


def _relative(path: Path, folder: Path) -> str:
    """How a result names its input: ``upload`` for the uploaded file, a path inside the zip for its content."""
    try:
        rel = Path(path).relative_to(folder)
    except ValueError:
        return "upload"
    if rel.parts[:1] == (UNPACKED,):
        return str(Path(*rel.parts[1:])) if len(rel.parts) > 1 else "zip"
    return "upload"


def _message(exc: BaseException, settings: Settings) -> str:
    """The error for the client: no server path in it."""
    text = exc.message if isinstance(exc, ServiceError) else str(exc)
    for root in {str(settings.data_dir.resolve()), str(settings.data_dir)}:
        text = text.replace(root + "/", "").replace(root, "")
    return text
