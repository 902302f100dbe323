"""Accounts and API tokens: ``tumorscope users add|list|remove`` and the check behind every ``/v1`` route.

A token is ``ts_<key id>_<secret>``; the database keeps the key id (to find the account) and
SHA-256(salt + secret) with a per-account random salt, never the token. The secret is 256 random bits,
so a fast salted hash is enough (slow password hashes exist to protect guessable passwords) and every
request can be checked without adding latency.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tumorscope.errors import TumorscopeError
from tumorscope.serve.audit import record
from tumorscope.serve.db import User, as_utc

ROLES = ("clinician", "admin")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_TOKEN = re.compile(r"^ts_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True)
class Account:
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def add_user(engine: Engine, name: str, role: str, actor: str = "cli") -> str:
    """Create an account; returns its API token (shown once, never stored)."""
    if not _NAME.match(name):
        raise TumorscopeError(f"user name {name!r} must be 1-64 letters, digits or . _ @ - (starting with a "
                              "letter or digit)")
    if role not in ROLES:
        raise TumorscopeError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_hex(16)
    try:
        with Session(engine) as s, s.begin():
            s.add(User(name=name, role=role, key_id=key_id, salt=salt, token_hash=_digest(salt, secret)))
            record(s, actor, "user_add", summary={"user": name, "role": role})
    except IntegrityError as exc:
        raise TumorscopeError(f"user {name!r} exists already (remove it first to issue a new token)") from exc
    return f"ts_{key_id}_{secret}"


def list_users(engine: Engine) -> list[dict[str, str]]:
    with Session(engine) as s:
        users = s.scalars(select(User).order_by(User.name)).all()
        return [{"name": u.name, "role": u.role, "created_at": as_utc(u.created_at).isoformat()}  # type: ignore[union-attr]
                for u in users]


def remove_user(engine: Engine, name: str, actor: str = "cli") -> None:
    with Session(engine) as s, s.begin():
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            raise TumorscopeError(f"no user {name!r}")
        s.delete(user)
        record(s, actor, "user_remove", summary={"user": name})


def authenticate(engine: Engine, token: str) -> Account | None:
    """The account a token belongs to, or None for a malformed, unknown or revoked token."""
    m = _TOKEN.match(token)
    if m is None:
        return None
    with Session(engine) as s:
        user = s.scalar(select(User).where(User.key_id == m.group(1)))
        if user is None or not hmac.compare_digest(user.token_hash, _digest(user.salt, m.group(2))):
            return None
        return Account(user.name, user.role)
