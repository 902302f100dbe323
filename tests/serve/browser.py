"""Playwright around Debian's Chromium for the viewer's tests: software WebGL (SwiftShader), every request that
is not to the server on loopback aborted and recorded, console errors collected, screenshots kept."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
DOC_SHOTS = {"worklist": "viewer-worklist.png", "study": "viewer-study.png", "correction": "viewer-correction.png"}


class Watched:
    """A page on ``base_url`` whose console errors, page errors and off-loopback requests are recorded.
    ``allowed_404`` are URL endings whose 404 the page expects and reports itself (an optional volume)."""

    def __init__(self, browser: Any, base_url: str, shots: Path, viewport: tuple[int, int] = (1280, 720),
                 allowed_404: tuple[str, ...] = ()) -> None:
        self.base_url, self.shots, self.allowed_404 = base_url, shots, allowed_404
        self.errors: list[str] = []
        self.external: list[str] = []
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _route(self, route: Any) -> None:
        if route.request.url.startswith((self.base_url + "/", "data:", "blob:")):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def _console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        url = msg.location.get("url", "")
        if "status of 404" in msg.text and url.endswith(self.allowed_404):
            return
        self.errors.append(f"{msg.text} ({url})")

    def sign_in(self, token: str) -> None:
        self.page.goto(self.base_url + "/")
        self.page.fill("#token", token)
        self.page.click("form.signin button[type=submit]")
        self.page.wait_for_selector("#upload-file")

    def shot(self, name: str, **kw: Any) -> np.ndarray:
        """Screenshot of the page (or of ``locator``) into the shots folder, as an RGB array."""
        from PIL import Image

        path = self.shots / f"{name}.png"
        target = kw.pop("locator", None) or self.page
        png = target.screenshot(path=str(path), **kw)
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)

    def close(self) -> None:
        self.context.close()


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def shots_dir(tmp_path: Path) -> Path:
    """$TUMORSCOPE_SCREENSHOTS to keep the screenshots for a person to look at, else the test's tmp folder."""
    folder = Path(os.environ.get("TUMORSCOPE_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def publish_doc_shots(shots: Path) -> None:
    """Copy the screenshots docs/viewer.md shows into docs/img, only when TUMORSCOPE_WRITE_DOC_SCREENSHOTS=1."""
    if os.environ.get("TUMORSCOPE_WRITE_DOC_SCREENSHOTS") != "1":
        return
    (REPO / "docs" / "img").mkdir(exist_ok=True)
    for name, doc_name in DOC_SHOTS.items():
        shutil.copyfile(shots / f"{name}.png", REPO / "docs" / "img" / doc_name)


def colour_share(rgb: np.ndarray, points: np.ndarray, colour: str) -> float:
    """Share of ``points`` (x, y pixel coordinates) where ``rgb`` shows the overlay ``colour`` (red mask,
    green correction), blended over gray at any opacity from about 0.3."""
    xy = np.round(points).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < rgb.shape[1]) & (xy[:, 1] >= 0) & (xy[:, 1] < rgb.shape[0])
    px = rgb[xy[inside, 1], xy[inside, 0]]
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    hit = (r - g > 45) & (r - b > 45) if colour == "red" else (g - r > 45) & (g - b > 15)
    return float(hit.sum()) / max(len(points), 1)
