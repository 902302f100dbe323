"""The web viewer's static files: ``GET /`` is viewer/index.html, ``/viewer/...`` its scripts, styles and the
vendored NiiVue bundle. They need no token (the page asks for one and sends it with every API call) and are
served with a Content-Security-Policy that lets the page reach nothing but this origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

VIEWER_DIR = Path(__file__).with_name("viewer")
# blob: images for NiiVue's canvas snapshots; inline style attributes are set by NiiVue on its canvas
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def mount_viewer(app: FastAPI) -> None:
    """Serve the viewer at ``/`` and its assets under ``/viewer``."""

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(VIEWER_DIR / "index.html", headers={**HEADERS, "Cache-Control": "no-cache"})

    app.mount("/viewer", StaticFiles(directory=VIEWER_DIR), name="viewer")

    @app.middleware("http")
    async def viewer_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if request.url.path.startswith("/viewer/"):
            response.headers.update(HEADERS)
        return response
