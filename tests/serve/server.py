"""A real ``tumorscope serve`` on loopback for the tests: a subprocess in its own process group, its log in a
file, its state in a temp data dir; killable with SIGKILL to test crash recovery."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tumorscope.serve.accounts import add_user
from tumorscope.serve.db import open_database
from tumorscope.serve.settings import database_url

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path, db: str | None = None, workers: int = 1, max_upload: int = 64 * 1024**2,
                 extra_env: dict[str, str] | None = None) -> None:
        self.data_dir, self.db, self.workers, self.max_upload = data_dir, db, workers, max_upload
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"{data_dir.name}-server.log"
        self.env = {**os.environ, "PYTHONPATH": str(REPO), **(extra_env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> Server:
        cmd = [sys.executable, "-m", "tumorscope", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir),
               "--workers", str(self.workers), "--max-upload", str(self.max_upload), "--log-level", "info"]
        if self.db:
            cmd += ["--db", self.db]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=REPO,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server not ready in {timeout} s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the server's whole process group: no cleanup runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def add_user(self, name: str, role: str) -> str:
        return add_user(open_database(database_url(self.db, self.data_dir)), name, role)

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=kw.pop("timeout", 120), **kw)


def wait_done(client: httpx.Client, pid: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/predictions/{pid}").json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"prediction {pid} not finished in {timeout} s")
