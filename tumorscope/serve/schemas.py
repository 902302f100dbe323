"""Response and request models: what ``/openapi.json`` documents, errors included."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="what was wrong, naming the file or field (FastAPI's own 422s list each field's problem)")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses."""
    what = {400: "damaged or unsafe input", 401: "missing, invalid or revoked token", 403: "role not allowed",
            404: "unknown prediction, model or file", 409: "not in a state that allows this",
            413: "upload over --max-upload", 415: "not a supported image, volume, DICOM or zip (by content)",
            422: "malformed fields", 503: "starting: database or models not ready"}
    return {c: {"model": ErrorBody, "description": what[c]} for c in codes}


class Health(BaseModel):
    status: Literal["ok", "starting"]


class Submitted(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]


class ReviewOut(BaseModel):
    id: int
    decision: Literal["accept", "reject", "correct"]
    reviewer: str
    comment: str
    corrected_mask: str | None = Field(None, description="file name under /files/ when the decision is correct")
    created_at: datetime
    edit_dice: float | None = Field(None, description="correct: Dice of the AI mask and the corrected one")
    changed_voxels: int | None = Field(None, description="correct: voxels the correction changed")


class PredictionOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    model: str
    model_version: str
    weights_sha256: str
    input_sha256: str
    created_at: datetime
    finished_at: datetime | None = None
    answered_from: str | None = Field(None, description="id whose stored result answered these same bytes")
    result: dict[str, Any] | None = Field(None, description="predict's summary.json")
    files: list[str] = Field(default_factory=list, description="names for /v1/predictions/{id}/files/{name}")
    error: str | None = None
    reviews: list[ReviewOut] = Field(default_factory=list)


class Finding(BaseModel):
    tumor_found: bool | None = None
    probability: float | None = Field(None, description="segmentation: the highest tumor probability; "
                                                        "classification: the predicted class's")
    predicted: str | None = Field(None, description="classification: the predicted class")
    n_lesions: int | None = None
    volume_mm3: float | None = None


class ReviewState(BaseModel):
    state: Literal["unreviewed", "accept", "reject", "correct"] = Field(description="the last review's decision")
    count: int
    last_reviewer: str | None = None


class WorklistItem(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    model: str
    model_version: str
    created_at: datetime
    finished_at: datetime | None = None
    input_kind: str = Field(description="the upload's kind by content: png, jpeg, tiff, bmp, nifti, nifti_gz, "
                                        "dicom, zip")
    finding: Finding
    review: ReviewState


class Worklist(BaseModel):
    total: int = Field(description="predictions matching the filter, all pages")
    items: list[WorklistItem]


class ReviewIn(BaseModel):
    decision: Literal["accept", "reject", "correct"]
    comment: str = Field("", max_length=10_000)


class ModelOut(BaseModel):
    name: str
    source: Literal["bundled", "installed"]
    task: str
    classes: list[str]
    version: str
    weights_sha256: str
    inputs: dict[str, Any]
    metrics: dict[str, Any]
    postprocessing: dict[str, Any] | None = None


class AuditOut(BaseModel):
    events: list[dict[str, Any]]
