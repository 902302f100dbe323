"""``/v1/models`` (listing for everyone; installing and removing for admins), ``/v1/audit`` (admins) and
``/v1/monitoring`` (drift of live inputs and outputs against each model's reference)."""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from tumorscope.atomic import clean_stale, temp_beside
from tumorscope.bundle import load_bundle
from tumorscope.errors import TumorscopeError
from tumorscope.serve.audit import events_since, record
from tumorscope.serve.auth import Admin, User
from tumorscope.serve.errors import BadRequest, Conflict, NotFound
from tumorscope.serve.models import describe
from tumorscope.serve.schemas import AuditOut, ModelOut, errors
from tumorscope.serve.uploads import StoredUpload, prepare_input, store_upload

router = APIRouter(prefix="/v1")
_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@router.get("/models", response_model=list[ModelOut], responses=errors(401))
def models(request: Request, user: User) -> Any:
    """The bundled and installed models: task, inputs, version and cross-validated metrics."""
    return request.app.state.models.catalogue()


@router.put("/models/{name}", response_model=ModelOut, responses=errors(400, 401, 403, 409, 413, 415, 422))
async def install_model(request: Request, admin: Admin, name: str,
                        file: Annotated[UploadFile, File(description="a zip of a bundle folder "
                                                                     "(config.json + weights.safetensors + card.md)")]
                        ) -> Any:
    """Install a bundle under ``name`` (admin). Its config is schema-checked and its weights checksummed."""
    state = request.app.state
    if not _MODEL_NAME.match(name):
        raise BadRequest("model names are 1-64 lowercase letters, digits, '.', '_' or '-'")
    if state.models.names().get(name):
        raise Conflict(f"a model {name!r} exists already (remove an installed one first; bundled ones stay)")
    scratch = state.settings.data_dir / ".model-uploads" / secrets.token_hex(8)  # this request's own
    try:
        upload = await store_upload(file, scratch, state.settings.max_upload)
        return await run_in_threadpool(_install, request, admin.name, name, upload)
    finally:  # the installed copy is all that is kept
        await run_in_threadpool(shutil.rmtree, scratch, True)


def _install(request: Request, actor: str, name: str, upload: StoredUpload) -> dict[str, Any]:
    state = request.app.state
    if upload.kind != "zip":
        raise BadRequest("a model is installed from a zip of its bundle folder")
    root = prepare_input(upload)
    try:
        bundle = load_bundle(root)
    except TumorscopeError as exc:
        raise BadRequest(f"not a valid bundle: {exc.problem}") from None
    _publish_bundle(bundle.path, state.settings.models, name)
    with Session(state.engine) as s, s.begin():
        record(s, actor, "model_install", summary={"model": name, "weights_sha256": bundle.config.get("weights_sha256")})
    return describe(state.models.get(name), "installed")


def _publish_bundle(source: Path, models_dir: Path, name: str) -> None:
    """Copy ``source`` to ``models_dir/name`` whole or not at all, never over an installed model: admins
    installing one name at once get one install and 409s (atomic_path would replace the winner's copy)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(models_dir)  # copies cut off by a kill
    staging = temp_beside(models_dir / name)
    try:
        shutil.copytree(source, staging)
        os.rename(staging, models_dir / name)  # fails on an existing (non-empty) folder
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise Conflict(f"a model {name!r} exists already (installed meanwhile)") from None
        raise


@router.delete("/models/{name}", status_code=204, responses=errors(401, 403, 404, 409))
def remove_model(request: Request, admin: Admin, name: str) -> None:
    """Remove an installed model (admin); bundled models cannot be removed."""
    state = request.app.state
    source = state.models.names().get(name)
    if source is None:
        raise NotFound(f"no model {name!r}")
    if source == "bundled":
        raise Conflict(f"{name!r} is bundled with tumorscope and cannot be removed")
    state.models.forget(name)
    state.monitor.reset(name)  # a later model of this name is compared afresh
    shutil.rmtree(state.settings.models / name)
    with Session(state.engine) as s, s.begin():
        record(s, admin.name, "model_remove", summary={"model": name})


@router.get("/audit", response_model=AuditOut, responses=errors(401, 403, 422))
def audit(request: Request, admin: Admin,
          since: Annotated[datetime | None, Query(description="ISO 8601 time; events at or after it")] = None,
          limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Any:
    """Audit events, oldest first (admin)."""
    if since is not None:
        since = (since if since.tzinfo else since.replace(tzinfo=UTC)).astimezone(UTC)
    with Session(request.app.state.engine) as s:
        return {"events": events_since(s, since, limit)}


@router.get("/monitoring", responses=errors(401))
def monitoring(request: Request, user: User) -> dict[str, Any]:
    """Per model: live input and output statistics against the bundle's reference (PSI, KS, drift flags)."""
    return {"models": request.app.state.monitor.report()}
