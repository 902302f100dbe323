"""The audit trail: one append-only row per upload, prediction, review, export and account change.

Rows hold who, when, what, the model's name, version and weights SHA-256, the input's content hash and a
result summary; never pixels, never the input's header fields or the client's file name
(:func:`safe_summary` keeps only the fields listed here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tumorscope.serve.db import AuditEvent, Prediction, as_utc

ACTIONS = ("upload", "prediction", "review", "export", "user_add", "user_remove", "model_install", "model_remove")
# What of a predict summary.json may enter the audit trail (numbers and the model's own words, no names).
SUMMARY_FIELDS = ("tumor_found", "probability", "volume_pixels", "volume_mm3", "n_components", "n_slices",
                  "predicted", "probabilities", "n_images", "counts", "postprocessing", "tta")


def safe_summary(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {k: summary[k] for k in SUMMARY_FIELDS if k in summary}


def record(session: Session, actor: str, action: str, prediction: Prediction | None = None,
           summary: dict[str, Any] | None = None, decision: str | None = None,
           comment: str | None = None) -> None:
    """Add one event to ``session`` (committed with the change it records)."""
    assert action in ACTIONS, action
    event = AuditEvent(actor=actor, action=action, summary=summary, decision=decision, comment=comment)
    if prediction is not None:
        event.prediction_id = prediction.id
        event.model = prediction.model
        event.model_version = prediction.model_version
        event.weights_sha256 = prediction.weights_sha256
        event.input_sha256 = prediction.input_sha256
    session.add(event)


def events_since(session: Session, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    q = select(AuditEvent).order_by(AuditEvent.id).limit(limit)
    if since is not None:
        q = q.where(AuditEvent.at >= since)
    return [{"id": e.id, "at": as_utc(e.at).isoformat(), "actor": e.actor, "action": e.action,  # type: ignore[union-attr]
             "prediction_id": e.prediction_id, "model": e.model, "model_version": e.model_version,
             "weights_sha256": e.weights_sha256, "input_sha256": e.input_sha256, "summary": e.summary,
             "decision": e.decision, "comment": e.comment} for e in session.scalars(q)]
