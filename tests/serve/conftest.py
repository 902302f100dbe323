"""Fixtures of the service's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.serve.postgres import postgres_unavailable, running_postgres
from tests.serve.server import Server


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``postgresql://`` URL of a throwaway PostgreSQL server shared by the session (skips when none can run)."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    with running_postgres(tmp_path_factory.mktemp("postgres")) as url:
        yield url


def fresh_database(url: str, name: str) -> str:
    """A new empty database on the server of ``url`` (each service under test gets its own)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """The database URL a service under test uses: None (SQLite in its data dir) or a fresh PostgreSQL db."""
    if request.param == "sqlite":
        return None
    url = request.getfixturevalue("postgres_url")
    return fresh_database(url, f"t_{request.module.__name__.rsplit('.', 1)[-1]}")


@pytest.fixture(scope="module")
def service(backend: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running service (module-wide) on SQLite or PostgreSQL."""
    server = Server(tmp_path_factory.mktemp("serve") / "data", db=backend).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tokens(service: Server) -> dict[str, str]:
    return {"clinician": service.add_user("carla", "clinician"), "admin": service.add_user("ada", "admin")}
