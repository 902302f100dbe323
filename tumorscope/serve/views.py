"""How a stored prediction is shown to clients (``GET /v1/predictions/{id}``) and where its files are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
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
        "reviews": [review_json(r) for r in reviews],
    }


def review_json(r: Review) -> dict[str, Any]:
    return {"id": r.id, "decision": r.decision, "reviewer": r.reviewer, "comment": r.comment,
            "corrected_mask": r.corrected_mask, "created_at": as_utc(r.created_at), "edit_dice": r.edit_dice,
            "changed_voxels": r.changed_voxels}


def worklist(session: Session, status: str | None, limit: int, offset: int) -> dict[str, Any]:
    """``GET /v1/predictions``: one page of predictions, newest first, each with its finding and the state of
    its review (the last decision), and how many match ``status`` in all."""
    where = [Prediction.status == status] if status else []
    total = session.scalar(select(func.count()).select_from(Prediction).where(*where)) or 0
    page = session.scalars(select(Prediction).where(*where).order_by(Prediction.created_at.desc(),
                                                                      Prediction.id.desc())
                           .limit(limit).offset(offset)).all()
    reviews: dict[str, list[Review]] = {}
    if page:
        for r in session.scalars(select(Review).where(Review.prediction_id.in_([p.id for p in page]))
                                 .order_by(Review.id)):
            reviews.setdefault(r.prediction_id, []).append(r)
    items = []
    for p in page:
        done = reviews.get(p.id, [])
        items.append({"id": p.id, "status": p.status, "model": p.model, "model_version": p.model_version,
                      "created_at": as_utc(p.created_at), "finished_at": as_utc(p.finished_at),
                      "input_kind": p.input_kind, "finding": finding(p.result),
                      "review": {"state": done[-1].decision if done else "unreviewed", "count": len(done),
                                 "last_reviewer": done[-1].reviewer if done else None}})
    return {"total": int(total), "items": items}


def finding(result: dict[str, Any] | None) -> dict[str, Any]:
    """The worklist's summary of predict's summary.json (all None until done); ``n_lesions`` counts every
    component (summary.json's ``lesions`` lists at most the largest 100)."""
    r = result or {}
    predicted = r.get("predicted")
    probability = r.get("probability")
    if predicted is not None and isinstance(r.get("probabilities"), dict):
        probability = r["probabilities"].get(predicted)
    return {"tumor_found": r.get("tumor_found"), "probability": probability, "predicted": predicted,
            "n_lesions": r.get("n_components"), "volume_mm3": r.get("volume_mm3")}


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
