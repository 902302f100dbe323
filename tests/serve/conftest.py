"""Fixtures of the service's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.serve.postgres import postgres_unavailable, running_postgres


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``postgresql://`` URL of a throwaway PostgreSQL server shared by the session (skips when none can run)."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    with running_postgres(tmp_path_factory.mktemp("postgres")) as url:
        yield url
