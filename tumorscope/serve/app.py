"""The FastAPI application: state (database, models, job runner, metrics, drift monitor), error handling
that answers every refusal as JSON with its status, the upload size limit, ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tumorscope.errors import TumorscopeError
from tumorscope.serve import routes_admin, routes_predictions, routes_viewer
from tumorscope.serve.auth import BadToken
from tumorscope.serve.db import open_database
from tumorscope.serve.errors import ServiceError
from tumorscope.serve.jobs import Runner
from tumorscope.serve.metrics import CONTENT_TYPE, Metrics
from tumorscope.serve.models import ModelStore
from tumorscope.serve.monitoring import DriftMonitor
from tumorscope.serve.schemas import Health, errors
from tumorscope.serve.settings import Settings
from tumorscope.serve.viewer_mount import mount_viewer

log = logging.getLogger(__name__)
WARM_MODEL = routes_predictions.DEFAULT_MODEL


class UploadLimit:
    """413 for a request body over ``max_bytes``: at once from Content-Length, else as soon as the streamed
    body passes the limit (the app then sees a disconnect and its own answer is dropped)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = JSONResponse({"detail": f"upload over the limit of {self.max_bytes} bytes (--max-upload)"}, 413)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await too_large(scope, receive, send)
            return
        seen, answered = 0, False

        async def limited_receive() -> Message:
            nonlocal seen, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    answered = True
                    await too_large(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


def create_app(settings: Settings) -> FastAPI:
    """The service for ``settings``; the database is migrated and models warmed at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=_start, args=(app,), name="tumorscope-startup", daemon=True).start()
        yield
        if app.state.runner is not None:
            app.state.runner.stop()

    app = FastAPI(title="tumorscope", version=_version(), lifespan=lifespan,
                  description="Tumor detection service: submit images, read results, review them. Every /v1 "
                              "route needs `Authorization: Bearer TOKEN` (`tumorscope users add`).")
    app.state.settings = settings
    app.state.ready = False
    app.state.runner = None
    app.state.startup_error = None
    app.state.monitor = DriftMonitor()
    app.state.models = ModelStore(settings.models)
    app.state.metrics = Metrics(lambda: app.state.runner.queue_length() if app.state.runner else 0,
                                app.state.monitor.report)
    app.include_router(routes_predictions.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_viewer.router)
    _handlers(app)
    _endpoints(app)

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Response:
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        app.state.metrics.observe_request(request.method, getattr(route, "path", "unmatched"),
                                          response.status_code, time.perf_counter() - t0)
        return response

    app.add_middleware(UploadLimit, max_bytes=settings.max_upload)
    mount_viewer(app)
    return app


def _start(app: FastAPI) -> None:
    """Open (and migrate) the database, load the default model, start the workers; then /healthz says ok."""
    state = app.state
    try:
        settings = state.settings
        for folder in (settings.uploads, settings.results, settings.reviews):
            folder.mkdir(parents=True, exist_ok=True)
        state.engine = open_database(settings.db_url)
        state.models.get(WARM_MODEL)
        runner = Runner(settings, state.engine, state.models, observe=_observer(state.monitor))
        runner.on_finish.append(state.metrics.prediction_finished)
        runner.start()
        state.runner = runner
        state.ready = True
        log.info("tumorscope serve is ready")
    except Exception as exc:  # reported by /healthz; the process stays up so an operator can read why
        state.startup_error = str(exc)
        log.error("startup failed: %s", exc)


def _observer(monitor: DriftMonitor) -> Any:
    from tumorscope.bundle.reference import features_for_classification, features_for_segmentation

    def observe(bundle: Any, inp: Any, prob: Any, mask: Any, summary: Any) -> None:
        if prob is not None:
            features = features_for_segmentation(inp.slices, prob, mask)
        elif summary and "probabilities" in summary:
            import numpy as np

            probs = np.array([[float(summary["probabilities"][c]) for c in bundle.classes]])
            features = features_for_classification(inp.slices, probs, bundle.classes)
        else:
            return
        monitor.observe(bundle.name, bundle.reference, features)

    return observe


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, BadToken) else None
        return JSONResponse({"detail": exc.message}, exc.status, headers=headers)

    @app.exception_handler(TumorscopeError)
    async def user_error(request: Request, exc: TumorscopeError) -> JSONResponse:
        return JSONResponse({"detail": exc.problem}, 400)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"detail": "internal error (logged on the server)"}, 500)


def _endpoints(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Health, responses=errors(503))
    def healthz(request: Request) -> Any:
        """200 once the database is migrated, the default model loaded and the workers started."""
        if request.app.state.ready:
            return {"status": "ok"}
        detail = request.app.state.startup_error or "starting"
        return JSONResponse({"status": "starting", "detail": detail}, 503)

    @app.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
    def metrics(request: Request) -> Response:
        """Prometheus text: requests, latencies, queue length, predictions by model and outcome, drift."""
        return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)

    @app.middleware("http")
    async def not_ready(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith("/v1") and not request.app.state.ready:
            return JSONResponse({"detail": "starting: database or models not ready"}, 503)
        return await call_next(request)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tumorscope")
    except PackageNotFoundError:
        return "0"
