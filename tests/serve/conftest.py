"""Fixtures of the service's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.serve.postgres import fresh_database
from tests.serve.server import Server


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
