"""A throwaway PostgreSQL server for the tests, started from Debian's ``postgresql`` package.

``running_postgres(tmp_dir)`` runs ``initdb`` (trust auth, no fsync) in a fresh folder, starts the server on a
free port of 127.0.0.1 only with its unix socket inside that folder, creates the database ``tumorscope`` and
yields ``postgresql://tumorscope@127.0.0.1:PORT/tumorscope``; on exit it stops the server
(``pg_ctl stop -m immediate``) and removes the folder. ``initdb`` refuses to run as root, so as root the
binaries run as the ``postgres`` system user (created by the Debian package) via ``runuser``, in a folder
that user owns. ``postgres_unavailable()`` says why no server can start here (None when one can).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
RUN_AS = "postgres"  # the system user Debian's package creates; the server runs as it when we are root
SUPERUSER = DATABASE = "tumorscope"
INSTALL_HINT = "make test installs it as root: apt-get install postgresql"
_MAX_SOCKET_PATH = 100  # a unix socket path is limited to 107 bytes; ".s.PGSQL.NNNNN" is added to the folder
_TIMEOUT_S = 120
_START_TRIES = 5  # a free port can be taken by another process before the server binds it


def postgres_bin_dir(root: Path = PG_ROOT) -> Path | None:
    """``<root>/<version>/bin`` of the newest installed version that has ``initdb``, or None."""
    versions = []
    for d in root.glob("*/bin/initdb"):
        version = d.parent.parent.name
        if re.fullmatch(r"\d+(\.\d+)*", version):
            versions.append((tuple(int(p) for p in version.split(".")), d.parent))
    return max(versions)[1] if versions else None


def postgres_unavailable(root: Path = PG_ROOT) -> str | None:
    """Why no throwaway PostgreSQL can start here, or None when it can."""
    if postgres_bin_dir(root) is None:
        return f"PostgreSQL is not installed ({INSTALL_HINT})"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root, but there is no {RUN_AS!r} user to run PostgreSQL as (initdb refuses root)"
        if shutil.which("runuser") is None:
            return "running as root, but `runuser` (util-linux) is missing to run PostgreSQL as another user"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", RUN_AS, "--", *cmd] if os.geteuid() == 0 else cmd


def _work_dir(tmp_dir: Path) -> Path:
    """A fresh folder the server's user owns: inside ``tmp_dir`` unless that user could not reach it there (as
    root, pytest's temp folders are private to root) or the socket path would be too long; else in /tmp."""
    for parent in (tmp_dir, Path(tempfile.gettempdir())):
        work = Path(tempfile.mkdtemp(prefix="pg-", dir=parent))
        if len(str(work / "sockets" / ".s.PGSQL.65535")) <= _MAX_SOCKET_PATH:
            if os.geteuid() != 0:
                return work
            user = pwd.getpwnam(RUN_AS)
            os.chown(work, user.pw_uid, user.pw_gid)
            if subprocess.run(_as_server_user(["test", "-w", str(work)]), timeout=_TIMEOUT_S).returncode == 0:
                return work
        shutil.rmtree(work)
    raise RuntimeError(f"no folder for PostgreSQL that the {RUN_AS!r} user can write (tried {tmp_dir} and /tmp)")


class _Cluster:
    """One ``initdb`` cluster in ``work``, its tools run as the folder's owner (``postgres`` when we are root)."""

    def __init__(self, bin_dir: Path, work: Path) -> None:
        self.bin_dir, self.work = bin_dir, work
        self.data, self.sockets, self.log = work / "data", work / "sockets", work / "server.log"

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = _as_server_user([str(self.bin_dir / tool), *args])
        # cwd: the server's user may not be allowed into ours; no PG* variables of the caller leak in
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}
        proc = subprocess.run(cmd, cwd=self.work, env=env, capture_output=True, text=True, timeout=_TIMEOUT_S)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{tool} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()}")
        return proc

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                 "--no-locale", "--no-sync")
        self.sockets.mkdir(mode=0o700)
        st = self.work.stat()  # as root: owned by the server's user, like the folder around it
        os.chown(self.sockets, st.st_uid, st.st_gid)

    def start(self) -> int:
        """Start on a free loopback port (retrying when another process took it first); returns the port."""
        for _ in range(_START_TRIES):
            port = _free_port()
            self._configure(port)
            proc = self.run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                            "-t", str(_TIMEOUT_S), check=False)
            if proc.returncode == 0:
                return port
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            if "could not bind" not in log and "already in use" not in log:
                raise RuntimeError(f"pg_ctl start failed ({proc.returncode}): {(log or proc.stderr).strip()[-2000:]}")
        raise RuntimeError(f"PostgreSQL found no free port in {_START_TRIES} tries")

    def _configure(self, port: int) -> None:
        """Settings in postgresql.auto.conf (read last; initdb made it, owned by the server's user)."""
        conf = {"listen_addresses": "127.0.0.1", "port": str(port), "unix_socket_directories": str(self.sockets),
                "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        quoted = {k: v.replace("'", "''") for k, v in conf.items()}
        (self.data / "postgresql.auto.conf").write_text("".join(f"{k} = '{v}'\n" for k, v in quoted.items()))

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", check=False)


@contextmanager
def running_postgres(tmp_dir: Path) -> Iterator[str]:
    """A fresh PostgreSQL server for the ``with`` block: yields its ``postgresql://`` URL; stops it and removes
    its folder afterwards. Raises RuntimeError when it cannot start (see :func:`postgres_unavailable`)."""
    reason = postgres_unavailable()
    if reason:
        raise RuntimeError(reason)
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None
    cluster = _Cluster(bin_dir, _work_dir(Path(tmp_dir)))
    try:
        cluster.init()
        port = cluster.start()
        cluster.run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, DATABASE)
        yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(cluster.work, ignore_errors=True)


def fresh_database(url: str, name: str) -> str:
    """A new empty database on the server of ``url`` (each service under test gets its own)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"
