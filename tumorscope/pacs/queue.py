"""``pacs watch``'s persisted queue: the ``pacs_series`` table of the service's database (SQLite by default).

A series is added once per model version (a unique key); :meth:`SeriesQueue.claim` takes the next due row with a
compare-and-set, so two watchers never run the same series. A claim is a lease: the watcher that holds it renews
it between steps; a row whose holder died (kill -9) is taken back at once when the holder ran on this host
(its process is gone), else when its lease runs out. Failures are retried with exponential backoff, up to
``max_attempts``; a crash is not a failure and does not count as an attempt.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tumorscope.serve.audit import record, safe_summary
from tumorscope.serve.db import PacsSeries, Prediction, as_utc, utcnow

STATES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class Retry:
    """How failures are retried: after ``backoff_s``, then twice as long each time, at most ``max_attempts``."""

    max_attempts: int = 5
    backoff_s: float = 2.0
    max_backoff_s: float = 600.0

    def delay(self, attempts: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** max(0, attempts - 1)))


def describe(result: dict[str, Any]) -> str:
    """A finished series' result (the queue's ``result``) as one line, for the log and ``pacs status``."""
    if not result.get("tumor_found"):
        return "no tumor found (nothing stored)"
    volume = result.get("volume_mm3")
    size = f"{volume / 1000:.1f} ml, " if volume is not None else ""
    return f"tumor found ({size}{result.get('lesions')} lesion(s)); stored {result.get('stored')} DICOM object(s)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class SeriesQueue:
    """The queue over ``engine`` (already migrated: :func:`tumorscope.serve.db.open_database`)."""

    def __init__(self, engine: Engine, lease_s: float = 900.0, retry: Retry | None = None) -> None:
        self.engine, self.lease = engine, timedelta(seconds=lease_s)
        self.retry = retry or Retry()
        self.host = socket.gethostname()[:40]
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"

    def known(self, model_version: str) -> set[str]:
        """SeriesInstanceUIDs already queued (in any state) for this model version."""
        with Session(self.engine) as s:
            return set(s.scalars(select(PacsSeries.series_uid).where(PacsSeries.model_version == model_version)))

    def add(self, study_uid: str, series_uid: str, modality: str, model: str, model_version: str,
            source: str) -> bool:
        """Queue a series for a model version; False when it was already there (nothing changes then)."""
        now = utcnow()
        row = PacsSeries(study_uid=study_uid, series_uid=series_uid, modality=modality[:16], model=model[:128],
                         model_version=model_version[:64], source=source[:256], status="queued", attempts=0,
                         next_try_at=now, created_at=now, updated_at=now)
        try:
            with Session(self.engine) as s, s.begin():
                s.add(row)
        except IntegrityError:
            return False
        return True

    def recover(self) -> int:
        """Put back in the queue the running rows whose holder was a process on this host that is gone."""
        freed = 0
        with Session(self.engine) as s:
            running = s.execute(select(PacsSeries.id, PacsSeries.owner).where(PacsSeries.status == "running")).all()
        for row_id, owner in running:
            host, _, rest = (owner or "").partition(":")
            pid = rest.partition(":")[0]
            if host == self.host and pid.isdigit() and not _pid_alive(int(pid)):
                freed += self._cas(row_id, owner, PacsSeries.status == "running", status="queued", owner=None,
                                   lease_until=None)
        return freed

    def claim(self) -> PacsSeries | None:
        """Take the next due row (queued and due, or running with a lapsed lease), or None."""
        now = utcnow()
        due = or_(and_(PacsSeries.status == "queued", PacsSeries.next_try_at <= now),
                  and_(PacsSeries.status == "running", PacsSeries.lease_until < now))
        with Session(self.engine) as s:
            candidates = s.execute(select(PacsSeries.id, PacsSeries.owner).where(due)
                                   .order_by(PacsSeries.next_try_at, PacsSeries.id).limit(8)).all()
        for row_id, owner in candidates:
            if self._cas(row_id, owner, due, status="running", owner=self.owner, lease_until=now + self.lease):
                return self.get(row_id)
        return None

    def renew(self, row_id: int) -> bool:
        """Extend our lease on a row; False when it is no longer ours."""
        return bool(self._cas(row_id, self.owner, lease_until=utcnow() + self.lease))

    def finish(self, row_id: int, result: dict[str, Any], prediction: Prediction | None = None) -> bool:
        """Mark our row done with its result and, in the same transaction, add ``prediction`` (with its audit
        event) to the service's worklist unless it is there already."""
        now = utcnow()
        with Session(self.engine) as s, s.begin():
            done = s.connection().execute(
                update(PacsSeries).where(PacsSeries.id == row_id, PacsSeries.owner == self.owner)
                .values(status="done", owner=None, lease_until=None, finished_at=now, updated_at=now, error=None,
                        result=result)).rowcount
            if done and prediction is not None and s.get(Prediction, prediction.id) is None:
                s.add(prediction)
                record(s, prediction.user, "prediction", prediction, safe_summary(prediction.result),
                       comment="pacs watch")
        return bool(done)

    def fail(self, row_id: int, error: str, permanent: bool = False) -> str:
        """Record a failed try of our row: queued again after a backoff, or ``failed`` when ``permanent`` or out of
        attempts. Returns the new state."""
        row = self.get(row_id)
        if row is None:
            return "gone"
        attempts = row.attempts + 1
        final = permanent or attempts >= self.retry.max_attempts
        state = "failed" if final else "queued"
        self._cas(row_id, self.owner, status=state, owner=None, lease_until=None, attempts=attempts,
                  error=error[:2000], next_try_at=utcnow() + timedelta(seconds=self.retry.delay(attempts)),
                  finished_at=utcnow() if final else None)
        return state

    def retry_failed(self) -> int:
        """Queue every failed row again with a fresh count of attempts (``pacs status --retry-failed``)."""
        with self.engine.begin() as conn:
            n = conn.execute(update(PacsSeries).where(PacsSeries.status == "failed").values(
                status="queued", attempts=0, next_try_at=utcnow(), updated_at=utcnow(), finished_at=None)).rowcount
        return int(n or 0)

    def next_due(self, include_running: bool = True) -> datetime | None:
        """When the earliest waiting row is due (queued rows and, with ``include_running``, running rows' lease
        ends), or None if none waits."""
        with Session(self.engine) as s:
            queued = s.scalar(select(func.min(PacsSeries.next_try_at)).where(PacsSeries.status == "queued"))
            lapsing = None if not include_running else s.scalar(
                select(func.min(PacsSeries.lease_until)).where(PacsSeries.status == "running"))
        times = [as_utc(t) for t in (queued, lapsing) if t is not None]
        return min(t for t in times if t is not None) if times else None

    def get(self, row_id: int) -> PacsSeries | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.get(PacsSeries, row_id)

    def rows(self, state: str | None = None, limit: int = 1000) -> list[PacsSeries]:
        """Rows newest first, optionally of one state."""
        query = select(PacsSeries).order_by(PacsSeries.id.desc()).limit(limit)
        if state:
            query = query.where(PacsSeries.status == state)
        with Session(self.engine, expire_on_commit=False) as s:
            return list(s.scalars(query))

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as s:
            found = dict(s.execute(select(PacsSeries.status, func.count()).group_by(PacsSeries.status)).all())
        return {state: int(found.get(state, 0)) for state in STATES}

    def _cas(self, row_id: int, holder: str | None, *conditions: Any, **values: Any) -> int:
        """Update the row only while ``holder`` still holds it and ``conditions`` hold (compare-and-set);
        returns 1 or 0."""
        held = PacsSeries.owner.is_(None) if holder is None else PacsSeries.owner == holder
        with self.engine.begin() as conn:
            n = conn.execute(update(PacsSeries).where(PacsSeries.id == row_id, held, *conditions)
                          .values(updated_at=utcnow(), **values)).rowcount
        return int(n or 0)
