"""pacs watch's persisted queue on real SQLite and PostgreSQL databases: one row per series and model version, claims that two
holders never share, backoff and a final failure, and a dead holder's row taken back."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from tumorscope.pacs.queue import Retry, SeriesQueue
from tumorscope.serve.db import PacsSeries, open_database, utcnow


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """A migrated database: SQLite (the default) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return open_database(f"sqlite:///{tmp_path / 'q.db'}")
    from tests.serve.postgres import fresh_database

    return open_database(fresh_database(request.getfixturevalue("postgres_url"), f"q_{request.node.name[5:40]}"))


def _add(q: SeriesQueue, series: str = "1.2.3", version: str = "v1") -> bool:
    return q.add("1.2", series, "MR", "lgg-flair-seg", version, "http://pacs/dicom-web")


def test_a_series_is_queued_once_per_model_version(engine: Engine) -> None:
    q = SeriesQueue(engine)
    assert _add(q) and not _add(q)
    assert _add(q, version="v2")  # a new model version is a new job
    assert q.known("v1") == {"1.2.3"} and q.counts()["queued"] == 2


def test_two_holders_never_claim_the_same_row(engine: Engine) -> None:
    a, b = SeriesQueue(engine), SeriesQueue(engine)
    _add(a)
    first = a.claim()
    assert first is not None and first.owner == a.owner and first.status == "running"
    assert b.claim() is None
    assert not b.finish(first.id, {"x": 1})  # not b's row
    assert a.finish(first.id, {"x": 1}) and a.get(first.id).status == "done"
    assert a.claim() is None and b.claim() is None  # a done row is never claimed again


def test_failures_back_off_then_fail(engine: Engine) -> None:
    q = SeriesQueue(engine, retry=Retry(max_attempts=3, backoff_s=10))
    _add(q)
    row = q.claim()
    assert q.fail(row.id, "cannot reach the DICOMweb server") == "queued"
    again = q.get(row.id)
    assert again.attempts == 1 and again.error.startswith("cannot reach")
    assert q.claim() is None  # not due for ~10 s
    due = q.next_due()
    assert due is not None and timedelta(seconds=8) < due - utcnow() <= timedelta(seconds=10)
    for attempt, state in ((2, "queued"), (3, "failed")):
        with engine.begin() as conn:  # skip the wait
            conn.execute(update(PacsSeries).values(next_try_at=utcnow()))
        assert q.fail(q.claim().id, "still down") == state
        assert q.get(row.id).attempts == attempt
    assert q.next_due() is None and q.counts()["failed"] == 1
    assert q.retry_failed() == 1 and q.get(row.id).attempts == 0 and q.claim() is not None


def test_a_permanent_error_fails_at_once_and_delays_grow(engine: Engine) -> None:
    q = SeriesQueue(engine)
    _add(q)
    assert q.fail(q.claim().id, "not a DICOM series", permanent=True) == "failed"
    assert [Retry(backoff_s=2).delay(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert Retry(backoff_s=2, max_backoff_s=5).delay(10) == 5


def test_a_dead_holders_row_is_taken_back_a_live_ones_is_not(engine: Engine) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    q = SeriesQueue(engine)
    _add(q, "1.2.3")
    _add(q, "1.2.4")
    crashed, alive = q.claim(), q.claim()
    with engine.begin() as conn:
        conn.execute(update(PacsSeries).where(PacsSeries.id == crashed.id)
                     .values(owner=f"{q.host}:{dead.stdout.strip()}:abc"))
    other = SeriesQueue(engine)
    assert other.recover() == 1
    assert other.get(crashed.id).status == "queued" and other.get(alive.id).status == "running"
    assert other.claim().id == crashed.id
    assert other.next_due(include_running=False) is None  # nothing queued; the live holder's row is its own


def test_an_expired_lease_is_taken_over(engine: Engine) -> None:
    a, b = SeriesQueue(engine, lease_s=0.0), SeriesQueue(engine)
    _add(a)
    row = a.claim()
    taken = b.claim()
    assert taken is not None and taken.id == row.id and taken.owner == b.owner
    assert not a.renew(row.id) and not a.finish(row.id, {})  # a lost it: its result is not recorded
