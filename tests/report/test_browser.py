"""The report opened in a real browser: Debian's headless Chromium, driven by Playwright when installed
(console errors, network requests, headings, screenshot), else by Chromium's own --dump-dom/--screenshot."""

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tumorscope.report.html import SECTIONS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (`make install` adds it: apt-get install -y chromium)"
)
TITLES = [title for _, title in SECTIONS]


def _screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: $TUMORSCOPE_SCREENSHOTS to keep them for a person to look at, else tmp."""
    return Path(os.environ.get("TUMORSCOPE_SCREENSHOTS", tmp_path))


def _check_with_playwright(page_path: Path, shot: Path) -> None:
    from playwright.sync_api import sync_playwright

    errors, external = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: external.append(req.url) if not req.url.startswith(("file:", "data:")) else None)
            page.goto(page_path.resolve().as_uri(), wait_until="load", timeout=60_000)
            headings = page.locator("h2").all_inner_texts()
            broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == [] and external == []
    assert broken == 0
    for title in TITLES:
        assert title in headings, title


def _check_with_chromium(page_path: Path, shot: Path, profile: Path) -> None:
    base = [CHROMIUM, "--headless", *FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run([*base, "--dump-dom", page_path.resolve().as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    for title in TITLES:
        assert f"<h2>{title.replace(chr(39), '&#x27;')}</h2>" in dom or f"<h2>{title}</h2>" in dom, title
    subprocess.run([*base, "--hide-scrollbars", "--window-size=1200,4000", f"--screenshot={shot}",
                    page_path.resolve().as_uri()], capture_output=True, timeout=120)


@pytest.mark.parametrize("which", ["seg_report", "cls_report"])
def test_report_renders_in_headless_chromium(which, request, tmp_path):
    page_path, _ = request.getfixturevalue(which)
    shot = _screenshot_dir(tmp_path) / f"{which}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("playwright") is not None:
        _check_with_playwright(page_path, shot)
    else:
        _check_with_chromium(page_path, shot, tmp_path / "profile")
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 20_000
