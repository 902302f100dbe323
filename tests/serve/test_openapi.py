"""Schemathesis against the live service's ``/openapi.json``: generated requests (valid and not) to every
route never get a 5xx; every route documents its errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.serve.server import Server


def test_openapi_documents_the_contract_and_its_errors(service: Server) -> None:
    spec = httpx.get(f"{service.url}/openapi.json").json()
    paths = spec["paths"]
    for route in ("/healthz", "/metrics", "/v1/models", "/v1/predictions", "/v1/predictions/{pid}",
                  "/v1/predictions/{pid}/files/{name}", "/v1/predictions/{pid}/review", "/v1/audit",
                  "/v1/monitoring"):
        assert route in paths, route
    submit = paths["/v1/predictions"]["post"]["responses"]
    assert {"202", "400", "401", "404", "413", "415", "422"} <= set(submit)
    assert {"401", "403"} <= set(paths["/v1/audit"]["get"]["responses"])
    assert "multipart/form-data" in paths["/v1/predictions/{pid}/review"]["post"]["requestBody"]["content"]


def test_no_server_error_on_generated_requests(service: Server, tokens: dict[str, str], tmp_path: Path,
                                               backend: str | None) -> None:
    if backend is not None:
        pytest.skip("the generated requests run once, on SQLite: the routes are the same on PostgreSQL")
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    if st is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    report = tmp_path / "st.json"
    proc = subprocess.run(
        [st, "run", f"{service.url}/openapi.json", "--checks", "not_a_server_error", "--max-examples", "6",
         "--seed", "7", "--max-time", "45", "--request-timeout", "60", "--workers", "1",
         "-H", f"Authorization: Bearer {tokens['admin']}", "--report", "ndjson", "--report-ndjson-path", str(report)],
        capture_output=True, text=True, timeout=420, cwd=tmp_path)
    tail = (proc.stdout + proc.stderr)[-4000:]
    print(tail)
    assert proc.returncode == 0, tail
    assert "passed" in tail.lower() or "no issues found" in tail.lower(), tail
    assert report.exists() and any(json.loads(line) for line in report.read_text().splitlines() if line.strip())
    assert httpx.get(f"{service.url}/healthz").status_code == 200
