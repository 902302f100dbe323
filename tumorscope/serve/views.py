"""How a stored prediction is shown to clients (``GET /v1/predictions/{id}``) and where its files are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tumorscope.serve.db import Prediction, Review, as_utc
from tumorscope.serve.errors import NotFound
from tumorscope.serve.settings import Settings

REVIEWS_PREFIX = "reviews/"


def get_prediction(session: Session, pid: str) -> Prediction:
    pred = session.get(Prediction, pid) if len(pid) <= 32 else None
    if pred is None:
        raise NotFound(f"no prediction {pid!r}")
    return pred


def result_files(settings: Settings, pred: Prediction) -> list[str]:
    root = settings.results / pred.result_dir
    if pred.status != "done" or not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def prediction_json(session: Session, settings: Settings, pred: Prediction) -> dict[str, Any]:
    reviews = session.scalars(select(Review).where(Review.prediction_id == pred.id).order_by(Review.id)).all()
    return {
        "id": pred.id, "status": pred.status, "model": pred.model, "model_version": pred.model_version,
        "weights_sha256": pred.weights_sha256, "input_sha256": pred.input_sha256,
        "created_at": as_utc(pred.created_at), "finished_at": as_utc(pred.finished_at),
        "answered_from": pred.answered_from, "result": pred.result, "error": pred.error,
        "files": result_files(settings, pred),
        "reviews": [{"id": r.id, "decision": r.decision, "reviewer": r.reviewer, "comment": r.comment,
                     "corrected_mask": r.corrected_mask, "created_at": as_utc(r.created_at)} for r in reviews],
    }


def file_path(settings: Settings, pred: Prediction, name: str) -> Path:
    """The file ``name`` of a prediction (its results, or ``reviews/...`` corrected masks); never a path
    outside those folders."""
    if name.startswith(REVIEWS_PREFIX):
        root, rel = settings.reviews / pred.id, name[len(REVIEWS_PREFIX):]
    else:
        root, rel = settings.results / pred.result_dir, name
    if pred.status != "done":
        raise NotFound(f"prediction {pred.id} is {pred.status}: it has no files yet")
    target = (root / rel).resolve()
    if "\x00" in name or not target.is_relative_to(root.resolve()) or not target.is_file():
        raise NotFound(f"prediction {pred.id} has no file {name!r}")
    return target
