"""``/v1/predictions``: submit an input, read the job and its files, review the result."""

from __future__ import annotations

import re
import shutil
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from tumorscope.explain.methods import METHODS
from tumorscope.predict.inputs import PredictInput
from tumorscope.serve.audit import record
from tumorscope.serve.auth import User
from tumorscope.serve.db import Prediction
from tumorscope.serve.errors import ServiceError
from tumorscope.serve.heatmaps import check_method
from tumorscope.serve.review import REVIEW_BODY, save_review
from tumorscope.serve.schemas import PredictionOut, ReviewOut, Submitted, errors
from tumorscope.serve.uploads import StoredUpload, prepare_input, read_upload, store_upload
from tumorscope.serve.views import file_path, get_prediction, prediction_json

DEFAULT_MODEL = "lgg-flair-seg"
MAX_WAIT_S = 60.0
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+(?:\.\d+)?)", re.I)
router = APIRouter(prefix="/v1")


def prefer_wait(prefer: str | None) -> float:
    """Seconds from an RFC 7240 ``Prefer: wait=N`` header (0 without one), at most MAX_WAIT_S."""
    m = _PREFER_WAIT.search(prefer or "")
    return min(float(m.group(1)), MAX_WAIT_S) if m else 0.0


@router.post("/predictions", status_code=202, response_model=Submitted,
             responses={200: {"model": PredictionOut, "description": "finished within `Prefer: wait=N`"},
                        **errors(400, 401, 404, 413, 415, 422)})
async def submit(
    request: Request,
    user: User,
    file: Annotated[UploadFile, File(description="a PNG/JPEG/TIFF/BMP slice, a .nii/.nii.gz volume, a DICOM file, "
                                                 "or a .zip of a DICOM series or of a kaggle_3m patient folder")],
    model: Annotated[str, Form(max_length=128)] = DEFAULT_MODEL,
    series: Annotated[str | None, Form(max_length=64, description="DICOM SeriesInstanceUID when the zip holds "
                                                                   "several series")] = None,
    explain: Annotated[str | None, Form(max_length=32, description="also compute this explanation method's "
                                        f"heatmap for the viewer ({', '.join(METHODS)}; 2-D segmentation "
                                        "models)")] = None,
    prefer: Annotated[str | None, Header(description="`wait=N`: answer 200 with the result when it is ready "
                                                     "within N seconds (at most 60)")] = None,
) -> Any:
    """Queue a prediction (202). The input's kind is read from its bytes, never from its name."""
    state = request.app.state
    bundle = await run_in_threadpool(state.models.get, model)
    if explain:  # an empty field is no explanation
        await run_in_threadpool(check_method, explain, bundle)
    upload = await store_upload(file, state.settings.uploads, state.settings.max_upload)
    inp: PredictInput | None = None
    try:
        if bundle.task == "segmentation" or upload.kind != "zip":
            inp = await run_in_threadpool(read_upload, upload, series)
        else:  # classification reads a zipped folder file by file (unreadable ones are listed, not fatal)
            await run_in_threadpool(prepare_input, upload)
    except ServiceError:
        await run_in_threadpool(_forget_refused, request, upload)
        raise
    options = {k: v for k, v in (("series", series), ("explain", explain)) if v}
    pred = await run_in_threadpool(state.runner.submit, user.name, upload, inp, bundle, options)
    wait = prefer_wait(prefer)
    if wait <= 0:
        return JSONResponse({"id": pred.id, "status": pred.status}, status_code=202)
    if pred.status not in ("done", "failed"):
        await state.runner.wait(pred.id, wait)
    body = await run_in_threadpool(_show, request, pred.id)
    return JSONResponse(jsonable_encoder(body), status_code=200 if body["status"] in ("done", "failed") else 202)


def _forget_refused(request: Request, upload: StoredUpload) -> None:
    """A refused upload is not kept, unless a prediction already uses the same bytes."""
    with Session(request.app.state.engine) as s:
        used = s.scalar(select(Prediction.id).where(Prediction.input_sha256 == upload.sha256).limit(1))
    if used is None:
        shutil.rmtree(upload.folder, ignore_errors=True)


def _show(request: Request, pid: str) -> dict[str, Any]:
    with Session(request.app.state.engine) as s:
        return prediction_json(s, request.app.state.settings, get_prediction(s, pid))


@router.get("/predictions/{pid}", response_model=PredictionOut, responses=errors(401, 404, 422))
def show(request: Request, user: User, pid: str) -> Any:
    """The job: status, model version, predict's summary.json once done, its files and reviews."""
    return _show(request, pid)


@router.get("/predictions/{pid}/files/{name:path}", responses={200: {"content": {"application/octet-stream": {}},
                                                                      "description": "the file"},
                                                                 **errors(401, 404, 422)})
def download(request: Request, user: User, pid: str, name: str) -> FileResponse:
    """One output file: the mask (NIfTI or PNG), overlays, heatmaps, summary.json, corrected masks."""
    state = request.app.state
    with Session(state.engine) as s, s.begin():
        pred = get_prediction(s, pid)
        path = file_path(state.settings, pred, name)
        record(s, user.name, "export", pred, comment=name.split("/")[0])  # the kind, not a name from the input
    return FileResponse(path)


@router.post("/predictions/{pid}/review", response_model=ReviewOut, openapi_extra=REVIEW_BODY,
             responses=errors(400, 401, 404, 409, 413, 415, 422))
async def review(request: Request, user: User, pid: str) -> Any:
    """Accept, reject or correct a finished prediction; the reviewer is the token's user. JSON
    ``{"decision", "comment"}``, or multipart with the same fields and, for ``correct``, ``mask``: the
    corrected mask in the input's geometry."""
    return await save_review(request, user, pid)
