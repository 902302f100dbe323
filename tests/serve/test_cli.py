"""``tumorscope users`` and ``tumorscope serve --help``: the account commands run as the real CLI in a
subprocess (five of them: each costs a Python start and tumorscope's imports); argument errors, database
errors and help run in-process through the same ``main``."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve.server import REPO
from tumorscope.cli import main
from tumorscope.serve.accounts import authenticate
from tumorscope.serve.db import open_database
from tumorscope.serve.settings import database_url

TOKEN = re.compile(r"ts_[0-9a-f]{16}_[A-Za-z0-9_-]{20,100}")


def tumorscope(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's package, as the service tests run it
    return subprocess.run([sys.executable, "-m", "tumorscope", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tumorscope: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_users_add_list_remove(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = tumorscope("users", "add", "alice", "--role", "clinician", "--data-dir", str(data))
    assert added.returncode == 0, added.stderr
    token_lines = [line for line in added.stdout.splitlines() if line.startswith("token: ")]
    assert len(token_lines) == 1 and TOKEN.fullmatch(token_lines[0].removeprefix("token: "))
    token = token_lines[0].removeprefix("token: ")
    assert added.stdout.count(token) == 1 and token not in added.stderr
    secret = token.split("_", 2)[2]

    # the token is nowhere in the database: not in its bytes (WAL included), not in the users table
    db_files = sorted(data.glob("tumorscope.db*"))
    assert db_files and all(secret.encode() not in f.read_bytes() for f in db_files)
    with sqlite3.connect(data / "tumorscope.db") as conn:
        rows = conn.execute("SELECT * FROM users").fetchall()
    assert len(rows) == 1 and "alice" in rows[0]
    assert not any(secret in str(v) or token in str(v) for v in rows[0])

    # --db naming the same file reaches the same accounts: the name is taken
    again = tumorscope("users", "add", "alice", "--role", "admin", "--db", f"sqlite:///{data / 'tumorscope.db'}")
    assert "exists already" in one_line_error(again) and not TOKEN.search(again.stdout)

    listed = tumorscope("users", "list", "--data-dir", str(data))
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^alice\s+clinician\s+created ", listed.stdout, re.M) and not TOKEN.search(listed.stdout)
    assert secret not in listed.stdout

    engine = open_database(database_url(None, data))
    assert authenticate(engine, token) is not None
    removed = tumorscope("users", "remove", "alice", "--data-dir", str(data))
    assert removed.returncode == 0 and "alice removed" in removed.stdout, removed.stderr
    assert authenticate(engine, token) is None


def test_unsupported_database_url_is_one_line() -> None:
    err = one_line_error(tumorscope("users", "list", "--db", "mysql://root:pw@db/ts"))
    assert "mysql://" in err and "postgresql://" in err and ":pw@" not in err


def test_db_option_and_database_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "elsewhere" / "accounts.db"
    assert main(["users", "add", "bob", "--role", "admin", "--db", f"sqlite:///{db}"]) == 0
    token = capsys.readouterr().out.split("token: ")[1].strip()
    account = authenticate(open_database(f"sqlite:///{db}"), token)
    assert account is not None and account.is_admin
    assert main(["users", "remove", "nobody", "--db", f"sqlite:///{db}"]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err

    # a database that cannot be opened: one line naming why, exit 2 (never an internal error)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    junk = tmp_path / "junk.db"
    junk.write_bytes(bytes(range(256)) * 20)
    for url, why in ((f"sqlite:///{blocker}/x.db", "folder"), (f"sqlite:///{junk}", "not a database"),
                     ("postgresql://nobody:secret@127.0.0.1:1/ts", "cannot open the database")):
        assert main(["users", "list", "--db", url]) == 2, url
        err = capsys.readouterr().err.strip()
        assert err.startswith("tumorscope: error: ") and "\n" not in err and why in err, err
        assert "secret" not in err

    with pytest.raises(SystemExit) as bad_role:
        main(["users", "add", "carl", "--role", "root", "--db", f"sqlite:///{db}"])
    assert bad_role.value.code == 2 and "invalid choice: 'root'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as no_role:
        main(["users", "add", "carl"])
    assert no_role.value.code == 2 and "--role" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "words"), [
    (["serve", "--help"], ["--host", "--port", "--data-dir", "--db", "--workers", "--max-upload", "--log-level",
                           "users add"]),
    (["users", "--help"], ["add", "list", "remove", "salted hash"]),
    (["users", "add", "--help"], ["--role", "clinician", "admin", "--data-dir", "--db"]),
])
def test_help(argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    out = capsys.readouterr().out
    assert done.value.code == 0
    for word in words:
        assert word in out, word
