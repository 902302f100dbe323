"""The service's small parts without a server: the database URL, ``Prefer: wait``, accounts and tokens,
what of a summary enters the audit trail, and the append-only audit table (SQLite on a temp file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tumorscope.errors import TumorscopeError
from tumorscope.serve.accounts import add_user, authenticate, list_users, remove_user
from tumorscope.serve.audit import safe_summary
from tumorscope.serve.db import AuditEvent, User, open_database
from tumorscope.serve.routes_predictions import MAX_WAIT_S, prefer_wait
from tumorscope.serve.settings import Settings, database_url


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One migrated SQLite database for the module (migrating costs more than the checks)."""
    return open_database(database_url(None, tmp_path_factory.mktemp("units")))


def test_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert database_url(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/tumorscope.db"
    monkeypatch.chdir(tmp_path)
    assert database_url("", Path("data")) == f"sqlite:///{tmp_path.resolve()}/data/tumorscope.db"  # absolute
    assert Settings(data_dir=tmp_path).db_url == f"sqlite:///{tmp_path.resolve()}/tumorscope.db"
    assert database_url("postgresql://u@db:5432/ts", tmp_path) == "postgresql+psycopg://u@db:5432/ts"
    assert database_url("postgres://u@db/ts", tmp_path) == "postgresql+psycopg://u@db/ts"
    assert database_url("postgresql+psycopg://u@db/ts", tmp_path) == "postgresql+psycopg://u@db/ts"
    assert database_url("sqlite:////var/ts.db", tmp_path) == "sqlite:////var/ts.db"
    with pytest.raises(TumorscopeError, match=r"sqlite:/// or postgresql://.*mysql://") as err:
        database_url("mysql://root:hunter2@db/ts", tmp_path)
    assert "hunter2" not in str(err.value)  # the password is never echoed
    with pytest.raises(TumorscopeError, match="--workers"):
        Settings(workers=0)
    with pytest.raises(TumorscopeError, match="--max-upload"):
        Settings(max_upload=0)


@pytest.mark.parametrize(("header", "seconds"), [
    (None, 0.0), ("", 0.0), ("wait=5", 5.0), ("respond-async, wait=10", 10.0), ("Wait = 2.5", 2.5),
    ("wait=61", MAX_WAIT_S), ("wait=100000", MAX_WAIT_S), ("wait=soon", 0.0), ("wait=-5", 0.0),
    ("nowait=5", 0.0), ("respond-async", 0.0), ("\x00garbage;;==", 0.0),
])
def test_prefer_wait(header: str | None, seconds: float) -> None:
    assert prefer_wait(header) == seconds


def test_token_is_stored_only_as_a_salted_hash(engine: Engine) -> None:
    token = add_user(engine, "una", "clinician")
    key_id, secret = token.removeprefix("ts_").split("_", 1)
    with Session(engine) as s:
        user = s.scalar(select(User).where(User.name == "una"))
        assert user is not None and user.key_id == key_id
        stored = " ".join(str(v) for v in (user.name, user.role, user.key_id, user.salt, user.token_hash))
    assert secret not in stored and token not in stored and len(user.token_hash) == 64
    account = authenticate(engine, token)
    assert account is not None and (account.name, account.role, account.is_admin) == ("una", "clinician", False)
    assert {"name": "una", "role": "clinician"}.items() <= next(u for u in list_users(engine)
                                                                if u["name"] == "una").items()
    # a second account with the same secret text would still get its own salt
    other = add_user(engine, "ulla", "admin")
    with Session(engine) as s:
        salts = set(s.scalars(select(User.salt).where(User.name.in_(["una", "ulla"]))))
    assert len(salts) == 2 and authenticate(engine, other).is_admin  # type: ignore[union-attr]


def test_wrong_and_malformed_tokens_are_rejected(engine: Engine) -> None:
    token = add_user(engine, "vera", "clinician")
    key_id, secret = token.removeprefix("ts_").split("_", 1)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for bad in (f"ts_{key_id}_{flipped}",                 # wrong secret, right key id
                f"ts_{'0' * 16}_{secret}",                # unknown key id
                f"ts_{key_id.upper()}_{secret}",          # key ids are lowercase hex
                "", "ts_", "ts__", f"Bearer {token}", token + " ", token[:-30],
                f"ts_{key_id}_{secret}!", f"ts_{key_id}_{'x' * 101}", "ts_" + key_id):
        assert authenticate(engine, bad) is None, bad
    remove_user(engine, "vera")
    assert authenticate(engine, token) is None
    with pytest.raises(TumorscopeError, match="no user 'vera'"):
        remove_user(engine, "vera")


@pytest.mark.parametrize("name", ["", "bad name", "-dash", ".dot", "a" * 65, "ünï", "x/y", "a;drop"])
def test_bad_user_names_are_refused(engine: Engine, name: str) -> None:
    with pytest.raises(TumorscopeError, match="user name"):
        add_user(engine, name, "clinician")


def test_roles_and_duplicates(engine: Engine) -> None:
    with pytest.raises(TumorscopeError, match="role must be one of clinician, admin"):
        add_user(engine, "wes", "root")
    assert add_user(engine, "wes.b-1@site", "admin").startswith("ts_")
    with pytest.raises(TumorscopeError, match="exists already"):
        add_user(engine, "wes.b-1@site", "clinician")


def test_safe_summary_keeps_only_listed_fields() -> None:
    summary = {"input": "Patient_Name/x.dcm", "slices_with_tumor": ["Patient_Name_12"], "tumor_found": True,
               "probability": 0.9, "n_slices": 3, "warnings": ["Patient_Name/x.dcm: Modality is CT"],
               "mask_files": ["mask.nii.gz"], "predicted": "glioma", "probabilities": {"glioma": 0.9}}
    kept = safe_summary(summary)
    assert kept == {"tumor_found": True, "probability": 0.9, "n_slices": 3, "predicted": "glioma",
                    "probabilities": {"glioma": 0.9}}
    assert "Patient_Name" not in repr(kept)
    assert safe_summary(None) is None and safe_summary({}) == {}


def test_audit_events_are_append_only(engine: Engine) -> None:
    add_user(engine, "xena", "clinician")  # records a user_add event
    with Session(engine) as s:
        before = s.scalars(select(AuditEvent.actor).order_by(AuditEvent.id)).all()
    assert before
    for statement in ("UPDATE audit_events SET actor = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with Session(engine) as s:
        assert s.scalars(select(AuditEvent.actor).order_by(AuditEvent.id)).all() == before
        s.add(AuditEvent(actor="test", action="export"))  # appending still works
        s.commit()
