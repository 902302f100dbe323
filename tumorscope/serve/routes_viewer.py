"""What the web viewer reads: the worklist (``GET /v1/predictions``), a segmentation's image, AI mask, heatmap
and corrected masks as NIfTI volumes in one voxel grid (:mod:`~tumorscope.serve.volumes`), and model cards.
Every volume read is an ``export`` event in the audit trail, like a file download."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from tumorscope.serve.audit import record
from tumorscope.serve.auth import User
from tumorscope.serve.db import Review
from tumorscope.serve.errors import NotFound
from tumorscope.serve.schemas import Worklist, errors
from tumorscope.serve.views import file_path, get_prediction, worklist
from tumorscope.serve.volumes import mask_in_grid, read_mask_file, viewer_name

router = APIRouter(prefix="/v1")
MAX_ID = 2**31 - 1  # larger numbers overflow the databases' integers: 422 rather than an error
NIFTI_GZ = "application/gzip"  # .nii.gz has no registered type; sent as gzip bytes, never Content-Encoding
_VOLUME = {200: {"content": {NIFTI_GZ: {}}, "description": "a .nii.gz volume"}, **errors(401, 404, 422)}


@router.get("/predictions", response_model=Worklist, responses=errors(401, 422))
def list_predictions(
    request: Request, user: User,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    status: Annotated[Literal["queued", "running", "done", "failed"] | None, Query()] = None,
) -> Any:
    """The worklist: predictions newest first, with their finding and review state (the last decision)."""
    with Session(request.app.state.engine) as s:
        return worklist(s, status, limit, offset)


def _volume(request: Request, user: str, pid: str, which: str) -> FileResponse:
    state = request.app.state
    with Session(state.engine) as s, s.begin():
        pred = get_prediction(s, pid)
        if pred.status != "done":
            raise NotFound(f"prediction {pid} is {pred.status}: it has no volumes yet")
        path = file_path(state.settings, pred, viewer_name(pred.result, which))
        record(s, user, "export", pred, comment=f"viewer/{which}")
    return FileResponse(path, media_type=NIFTI_GZ)


@router.get("/predictions/{pid}/viewer/image.nii.gz", response_class=FileResponse, responses=_VOLUME)
def viewer_image(request: Request, user: User, pid: str) -> FileResponse:
    """The input as a NIfTI: real intensities and geometry of a NIfTI/DICOM volume; a 2-D slice input as uint8
    display intensities, its slices along k, 1 mm voxels. 404 until done, and for classifications."""
    return _volume(request, user.name, pid, "image")


@router.get("/predictions/{pid}/viewer/mask.nii.gz", response_class=FileResponse, responses=_VOLUME)
def viewer_mask(request: Request, user: User, pid: str) -> FileResponse:
    """The AI mask, uint8 0/1, in image.nii.gz's voxel grid (the same affine)."""
    return _volume(request, user.name, pid, "mask")


@router.get("/predictions/{pid}/viewer/heatmap.nii.gz", response_class=FileResponse, responses=_VOLUME)
def viewer_heatmap(request: Request, user: User, pid: str) -> FileResponse:
    """The float32 [0, 1] heatmap in image.nii.gz's grid, for a prediction submitted with ``explain``; else 404."""
    return _volume(request, user.name, pid, "heatmap")


@router.get("/predictions/{pid}/viewer/corrected/{review_id}.nii.gz", response_class=Response, responses=_VOLUME)
def viewer_corrected(request: Request, user: User, pid: str,
                     review_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]) -> Response:
    """A review's corrected mask, uint8 0/1, in image.nii.gz's voxel grid (however it was sent)."""
    state = request.app.state
    with Session(state.engine) as s, s.begin():
        pred = get_prediction(s, pid)
        review = s.get(Review, review_id)
        if review is None or review.prediction_id != pred.id or review.corrected_mask is None:
            raise NotFound(f"prediction {pid} has no corrected mask of review {review_id}")
        image = file_path(state.settings, pred, viewer_name(pred.result, "image"))
        stored = file_path(state.settings, pred, review.corrected_mask)
        record(s, user.name, "export", pred, comment="viewer/corrected")
    if stored.name.endswith(".nii.gz"):  # with viewer volumes, a NIfTI correction is stored in their grid
        return FileResponse(stored, media_type=NIFTI_GZ)
    return Response(mask_in_grid(read_mask_file(stored), image), media_type=NIFTI_GZ)


@router.get("/models/{name}/card", response_class=Response,
            responses={200: {"content": {"text/markdown": {}}, "description": "the model card"},
                       **errors(401, 404)})
def model_card(request: Request, user: User, name: str) -> Response:
    """The model card (Markdown) of a bundled or installed model; 404 for an unknown model or one without a card."""
    card = request.app.state.models.folder(name) / "card.md"
    if not card.is_file():
        raise NotFound(f"model {name!r} has no model card")
    return Response(card.read_text(encoding="utf-8"), media_type="text/markdown")
