"""The service's tables (SQLAlchemy) and how to open the database: SQLite by default, PostgreSQL by URL.

The schema is made and upgraded by the Alembic migrations in ``migrations/`` (:func:`open_database` runs
them), never by ``create_all``: a PostgreSQL that an admin upgrades gets the same steps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tumorscope.errors import TumorscopeError

MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(t: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone: they were stored as UTC."""
    if t is None:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class User(Base):
    """An account. The API token is never stored: only ``key_id`` (to find the row) and a salted hash."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    salt: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Prediction(Base):
    """One submitted input and its job: queued -> running -> done | failed."""

    __tablename__ = "predictions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    model: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    weights_sha256: Mapped[str] = mapped_column(String(64))
    input_sha256: Mapped[str] = mapped_column(String(64), index=True)
    input_kind: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result_dir: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    answered_from: Mapped[str | None] = mapped_column(String(32), default=None)


class Review(Base):
    """A clinician's decision on a prediction; ``corrected_mask`` is relative to the data dir. A correction
    records how much it changed the AI mask: ``edit_dice`` (Dice of the two masks), ``changed_voxels``."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[str] = mapped_column(ForeignKey("predictions.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    corrected_mask: Mapped[str | None] = mapped_column(String(256), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edit_dice: Mapped[float | None] = mapped_column(Float, default=None)
    changed_voxels: Mapped[int | None] = mapped_column(Integer, default=None)


class AuditEvent(Base):
    """Append-only (database triggers refuse UPDATE and DELETE): who did what, when, with which model
    version and input. Never pixel data, never header fields of the input."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    prediction_id: Mapped[str | None] = mapped_column(String(32), default=None)
    model: Mapped[str | None] = mapped_column(String(128), default=None)
    model_version: Mapped[str | None] = mapped_column(String(64), default=None)
    weights_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    input_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    summary: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    decision: Mapped[str | None] = mapped_column(String(16), default=None)
    comment: Mapped[str | None] = mapped_column(Text, default=None)


class PacsSeries(Base):
    """One series found on a PACS by ``tumorscope pacs watch``, keyed by SeriesInstanceUID + model version:
    queued -> running -> done | failed. ``owner``/``lease_until`` mark a running claim (a watcher that died
    leaves an expired lease, which the next claim takes over); ``next_try_at`` delays a retry (backoff).
    Never header text of the series (descriptions may hold PHI): only UIDs, modality and counts."""

    __tablename__ = "pacs_series"
    __table_args__ = (UniqueConstraint("series_uid", "model_version", name="uq_pacs_series_model"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_uid: Mapped[str] = mapped_column(String(64))
    series_uid: Mapped[str] = mapped_column(String(64), index=True)
    modality: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    owner: Mapped[str | None] = mapped_column(String(96), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite in WAL mode with a busy timeout, shared by the app's threads."""
    if url.startswith("sqlite:"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``, by default the newest migration (Alembic ``upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def open_database(url: str) -> Engine:
    """Connect and migrate; a database that cannot be reached is one clear error."""
    from sqlalchemy.exc import DBAPIError

    if url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TumorscopeError(f"cannot create the database's folder: {exc.strerror}", folder) from exc
    engine = make_engine(url)
    try:
        migrate(engine)
    except DBAPIError as exc:  # unreachable, refused, not a database, no permission: the driver says which
        reason = " ".join(str(exc.orig).split())  # drivers' messages span lines; the CLI prints one
        raise TumorscopeError(f"cannot open the database {engine.url.render_as_string(hide_password=True)}: "
                              f"{reason}") from exc
    return engine
