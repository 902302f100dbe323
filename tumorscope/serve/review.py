"""Clinician review: accept, reject or correct a finished prediction. A corrected mask must have the
predicted mask's geometry (same shape, binary), or be a NIfTI in the viewer's voxel grid
(:mod:`~tumorscope.serve.volumes`); it is stored beside the result, never over it. A correction records how
much it changed the AI mask (``edit_dice``, ``changed_voxels``) in its row and its audit event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import ValidationError
from sqlalchemy.orm import Session

from tumorscope.atomic import atomic_path
from tumorscope.errors import TumorscopeError
from tumorscope.io.mask import is_binary
from tumorscope.predict.overlap import dice
from tumorscope.serve.accounts import Account
from tumorscope.serve.audit import record
from tumorscope.serve.db import Review
from tumorscope.serve.errors import BadRequest, Conflict, Malformed, UnsupportedMedia
from tumorscope.serve.schemas import ReviewIn
from tumorscope.serve.uploads import StoredUpload, store_upload
from tumorscope.serve.views import REVIEWS_PREFIX, get_prediction, review_json
from tumorscope.serve.volumes import IMAGE, grid_affine, mask_in_grid, read_correction, read_mask_file

MASK_KINDS = ("png", "tiff", "bmp", "nifti", "nifti_gz")
REVIEW_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": ReviewIn.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "required": ["decision"], "properties": {
        "decision": {"type": "string", "enum": ["accept", "reject", "correct"]},
        "comment": {"type": "string"},
        "mask": {"type": "string", "format": "binary", "description": "the corrected mask: PNG/TIFF/BMP in the "
                 "input's geometry, or a NIfTI in the viewer's voxel grid (image.nii.gz's; nonzero = tumor); "
                 "required for decision=correct"}}}}}}}


async def save_review(request: Request, user: Account, pid: str) -> dict[str, Any]:
    state = request.app.state
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    mask: StoredUpload | None = None
    if ctype == "application/json":
        try:
            fields = ReviewIn.model_validate(json.loads(await request.body() or b"null"))
        except (ValueError, ValidationError) as exc:
            raise Malformed(f"review body: {_first_error(exc)}") from None
    elif ctype == "multipart/form-data":
        form = await request.form()
        try:
            fields = ReviewIn.model_validate({k: form[k] for k in ("decision", "comment") if k in form
                                              and isinstance(form[k], str)})
        except ValidationError as exc:
            raise Malformed(f"review form: {_first_error(exc)}") from None
        part = form.get("mask")
        if part is not None and not isinstance(part, str):
            mask = await store_upload(part, state.settings.reviews / ".uploads", state.settings.max_upload)
    else:
        raise UnsupportedMedia("send the review as application/json, or multipart/form-data with a mask")
    if fields.decision == "correct" and mask is None:
        raise Malformed("decision 'correct' needs the corrected mask as the multipart field 'mask'")
    if fields.decision != "correct" and mask is not None:
        raise Malformed(f"a mask goes with decision 'correct' only, not {fields.decision!r}")
    return await run_in_threadpool(_store, request, user, pid, fields, mask)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(x) for x in err['loc']) or 'body'}: {err['msg']}"
    return "not valid JSON"


def _store(request: Request, user: Account, pid: str, fields: ReviewIn, mask: StoredUpload | None) -> dict[str, Any]:
    state = request.app.state
    with Session(state.engine) as s, s.begin():
        pred = get_prediction(s, pid)
        if pred.status != "done":
            raise Conflict(f"prediction {pid} is {pred.status}; only a finished prediction can be reviewed")
        result_dir = state.settings.results / pred.result_dir
        predicted = _predicted_mask(result_dir, pred.result or {}) if mask is not None else None
        row = Review(prediction_id=pid, reviewer=user.name, decision=fields.decision, comment=fields.comment)
        s.add(row)
        s.flush()
        edit = None
        if mask is not None and predicted is not None:
            grid = result_dir / IMAGE if (pred.result or {}).get("viewer") else None
            row.corrected_mask, corrected = _save_mask(mask, predicted, state.settings.reviews / pid / str(row.id),
                                                       grid)
            row.edit_dice = round(dice(predicted, corrected), 6)
            row.changed_voxels = int(np.count_nonzero(predicted != corrected))
            edit = {"edit_dice": row.edit_dice, "changed_voxels": row.changed_voxels}
        record(s, user.name, "review", pred, summary=edit, decision=fields.decision, comment=fields.comment)
        out = review_json(row)
    return jsonable_encoder(out)


def _predicted_mask(result_dir: Path, summary: dict[str, Any]) -> np.ndarray:
    """The predicted mask as (N, Y, X) bool, the geometry a correction must match."""
    files = summary.get("mask_files") or []
    if not files:
        raise Conflict("this prediction has no mask to correct (a classification)")
    return mask_stack([result_dir / f for f in files])


def mask_stack(files: list[Path]) -> np.ndarray:
    """Mask files read as one (N, Y, X) bool array: one 2-D file per slice, or one volume file."""
    return np.concatenate([read_mask_file(f) for f in files])


def conform_mask(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """A corrected mask as a mask of the prediction's (N, Y, X) ``shape``: a trailing channel axis dropped, a 2-D
    mask of a one-slice prediction given its slice axis; None when it does not fit."""
    if arr.ndim >= 3 and arr.shape[-1] in (1, 3, 4) and arr.shape[:-1] in (shape, shape[1:]):
        arr = arr[..., 0]
    if arr.shape == shape:
        return arr
    return arr[None] if arr.shape == shape[1:] and shape[0] == 1 else None


def _save_mask(upload: StoredUpload, predicted: np.ndarray, folder: Path, grid: Path | None) -> tuple[str, np.ndarray]:
    """Check and store a corrected mask; returns its name under /files/ and the mask as (N, Y, X) bool.

    A NIfTI for a prediction with viewer volumes is in the viewer's grid (nonzero = tumor) and is stored
    binarised in that grid; other masks must be binary, in the input's geometry, and are stored as sent."""
    if upload.kind not in MASK_KINDS:
        raise UnsupportedMedia(f"the corrected mask must be PNG, TIFF, BMP or NIfTI, not {upload.kind}")
    if grid is not None and upload.kind in ("nifti", "nifti_gz"):
        corrected = read_correction(upload.path, predicted.shape, grid_affine(grid))
        name, payload = "corrected_mask.nii.gz", mask_in_grid(corrected, grid)
    else:
        corrected = _checked_mask(upload, predicted.shape)
        name, payload = "corrected_mask" + upload.path.name.removeprefix("input"), upload.path.read_bytes()
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        (tmp / name).write_bytes(payload)
    return f"{REVIEWS_PREFIX}{folder.name}/{name}", corrected


def _checked_mask(upload: StoredUpload, shape: tuple[int, ...]) -> np.ndarray:
    """A binary (0/1 or 0/255) mask of ``shape`` (or one slice of it when the input has one) as bool."""
    from tumorscope.io import read_image

    try:
        arr = np.asarray(read_image(upload.path).array)
    except TumorscopeError as exc:
        raise BadRequest(f"mask: {exc.problem}") from None
    fitted = conform_mask(arr, shape)
    if fitted is None:
        raise BadRequest(f"mask: shape {arr.shape} differs from the prediction's {shape}: a corrected "
                         "mask must be in the input's geometry")
    values = np.unique(fitted)
    if not is_binary(values):
        raise BadRequest(f"mask: values must be binary (0/1 or 0/255), found {values.size} distinct values")
    return fitted != 0
