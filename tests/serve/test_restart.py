"""kill -9 of the server during a burst of 50 submissions: after a restart every job is done, exactly once,
with its result complete and no temporary left behind (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.serve.server import Server
from tests.serve.test_api import png_bytes
from tumorscope.serve.db import AuditEvent, Prediction, open_database
from tumorscope.serve.settings import database_url

N = 50


def test_kill_9_during_a_burst_loses_nothing_and_runs_nothing_twice(backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = Server(tmp_path / "data", db=backend, workers=2).start()
    token = server.add_user("burst", "clinician")
    ids: list[str] = []
    try:
        with server.client(token) as c:
            for i in range(N):
                r = c.post("/v1/predictions", files={"file": (f"{i}.png", png_bytes(1000 + i))})
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
                if i == N // 2:  # let the workers get going while the burst goes on
                    time.sleep(0.5)
            engine = open_database(database_url(backend, server.data_dir))
            with Session(engine) as s:
                before = {p.id: p.status for p in s.scalars(select(Prediction))}
        server.kill()
        assert set(before) == set(ids)
        assert any(v != "done" for v in before.values()), "all finished before the kill: nothing tested"
        server.start()
        deadline = time.monotonic() + 240
        with server.client(token) as c:
            while time.monotonic() < deadline:
                statuses = [c.get(f"/v1/predictions/{pid}").json()["status"] for pid in ids]
                if all(st in ("done", "failed") for st in statuses):
                    break
                time.sleep(0.5)
            assert statuses == ["done"] * N
            for pid in ids[:: N // 5]:
                assert c.get(f"/v1/predictions/{pid}/files/summary.json").status_code == 200
    finally:
        server.stop()
    with Session(engine) as s:
        done_events = s.scalars(select(AuditEvent.prediction_id).where(AuditEvent.action == "prediction")).all()
        attempts = {p.id: p.attempts for p in s.scalars(select(Prediction))}
    assert sorted(done_events) == sorted(ids)  # each job completed exactly once
    assert all(1 <= attempts[pid] <= 2 for pid in ids)
    results = server.data_dir / "results"
    assert sorted(p.name for p in results.iterdir()) == sorted(ids)  # no partial or temporary folder
    assert all((results / pid / "summary.json").is_file() for pid in ids)
    interrupted = [pid for pid in ids if before[pid] != "done"]
    assert interrupted and all(attempts[pid] >= 1 for pid in interrupted)
