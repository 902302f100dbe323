"""The throwaway PostgreSQL of the service's tests: a real server, reachable through psycopg and SQLAlchemy,
listening on loopback only, and gone (process and folder) after the ``with`` block."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.serve.postgres import RUN_AS, postgres_bin_dir, postgres_unavailable, running_postgres
from tumorscope.serve.settings import database_url

needs_postgres = pytest.mark.skipif(postgres_unavailable() is not None, reason=postgres_unavailable() or "")


@needs_postgres
def test_fixture_server_stores_rows_through_psycopg_and_sqlalchemy(postgres_url):
    assert postgres_url.startswith("postgresql://tumorscope@127.0.0.1:")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        conn.execute("CREATE TABLE scans (id serial PRIMARY KEY, name text NOT NULL, dice real)")
        conn.execute("INSERT INTO scans (name, dice) VALUES (%s, %s), (%s, %s)", ("a.tif", 0.5, "b.tif", 0.75))

    engine = sa.create_engine(database_url(postgres_url, Path(".")))
    assert engine.url.drivername == "postgresql+psycopg"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO scans (name, dice) VALUES (:n, :d)"), {"n": "c.tif", "d": 1.0})
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT name, dice FROM scans ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("a.tif", 0.5), ("b.tif", 0.75), ("c.tif", 1.0)]


@needs_postgres
def test_server_is_stopped_and_its_folder_removed_afterwards(tmp_path):
    with running_postgres(tmp_path) as url:
        with psycopg.connect(url) as conn:
            data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
            fsync = conn.execute("SHOW fsync").fetchone()[0]
        owner = RUN_AS if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        assert pwd.getpwuid(data_dir.stat().st_uid).pw_name == owner  # initdb refuses root
        assert fsync == "off"
    assert not data_dir.exists() and not data_dir.parent.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)


def _fake_install(root: Path, version: str, with_initdb: bool = True) -> None:
    (root / version / "bin").mkdir(parents=True)
    if with_initdb:
        (root / version / "bin" / "initdb").touch()


def test_newest_installed_version_is_used(tmp_path):
    for version, complete in [("9.6", True), ("15", True), ("16", False), ("common", True)]:
        _fake_install(tmp_path, version, complete)
    assert postgres_bin_dir(tmp_path) == tmp_path / "15" / "bin"  # 15 > 9.6 as numbers; 16 has no initdb


def test_missing_install_is_a_skip_reason_that_says_how_to_install(tmp_path):
    reason = postgres_unavailable(tmp_path)
    assert reason is not None and "not installed" in reason and "apt-get install postgresql" in reason
