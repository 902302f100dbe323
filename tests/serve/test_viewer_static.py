"""The viewer's static files as the service sends them, and the vendored NiiVue bundle against its record."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.scripts import load_script
from tumorscope.serve.app import create_app
from tumorscope.serve.settings import Settings
from tumorscope.serve.viewer_mount import VIEWER_DIR

REPO = Path(__file__).resolve().parents[2]
FETCH = load_script("fetch_niivue")
VENDOR = VIEWER_DIR / "vendor" / "niivue"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    # not entered as a context manager: no startup (database, models), which the static files do not need
    return TestClient(create_app(Settings(data_dir=tmp_path_factory.mktemp("viewer"))))


def test_root_is_the_viewer_page_with_a_same_origin_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'src="/viewer/js/app.js"' in page.text and "AI result — not for diagnosis" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp
    assert client.head("/").status_code == 200


def test_assets_are_served_under_viewer(client: TestClient) -> None:
    for name in ("js/app.js", "js/viewer.js", "style.css", "vendor/niivue/niivue.js", "vendor/niivue/LICENSE"):
        answer = client.get(f"/viewer/{name}")
        assert answer.status_code == 200, name
        assert answer.content == (VIEWER_DIR / name).read_bytes()
        assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert "javascript" in client.get("/viewer/js/app.js").headers["content-type"]
    assert client.get("/viewer/%2e%2e/viewer_mount.py").status_code == 404
    assert client.get("/viewer/nothing.js").status_code == 404


def test_every_page_script_is_a_local_module() -> None:
    """No script or style comes from another origin, and every import names a file that exists."""
    sources = list((VIEWER_DIR / "js").glob("*.js"))
    for source in [*sources, VIEWER_DIR / "index.html", VIEWER_DIR / "style.css"]:
        assert not re.search(r"https?://", source.read_text()), source.name
    for source in sources:
        for target in re.findall(r'^import .* from "(\.[^"]+)";$', source.read_text(), re.MULTILINE):
            assert (source.parent / target).resolve().is_file(), f"{source.name} imports {target}"


def test_vendored_niivue_is_the_recorded_npm_build() -> None:
    bundle = (VENDOR / "niivue.js").read_bytes()
    assert hashlib.sha256(bundle).hexdigest() == FETCH.BUNDLE_SHA256
    assert len(bundle) < 4 * 1024**2
    assert not re.search(rb"^import ", bundle, re.MULTILINE)  # self-contained: nothing to resolve at run time
    assert (VENDOR / "VERSION").read_text().strip() == FETCH.NIIVUE_VERSION
    licence = (VENDOR / "LICENSE").read_text()
    assert licence.startswith(f"NiiVue {FETCH.NIIVUE_VERSION}") and "BSD 2-Clause License" in licence
    for package, version in FETCH.BUNDLED.items():
        assert f"{package} {version}, compiled into the bundle" in licence


def test_viewer_files_ship_in_the_package() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["tumorscope"]
    shipped = {p for pattern in data for p in (REPO / "tumorscope").glob(pattern) if p.is_file()}
    viewer = {p for p in VIEWER_DIR.rglob("*") if p.is_file()}
    assert viewer and viewer <= shipped, sorted(str(p) for p in viewer - shipped)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (only this check of outline.js needs it)")
def test_outline_keeps_the_border_of_a_mask() -> None:
    """js/outline.js on a 3x3x3 cube in a 5x5x5 grid: in 3-D its top and bottom slices are all border and the
    middle one a ring; seen in the z plane (z flat) every slice is a ring."""
    script = (f'import {{ maskBorder }} from "{(VIEWER_DIR / "js" / "outline.js").as_uri()}";\n'
              "const m = new Uint8Array(125);\n"
              "for (const z of [1, 2, 3]) for (const y of [1, 2, 3]) for (const x of [1, 2, 3]) m[x + 5 * y + 25 * z] = 1;\n"
              "console.log(JSON.stringify([maskBorder(m, 5, 5, 5), maskBorder(m, 5, 5, 5, 2)].map((a) => Array.from(a))));")
    out = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    border3d, in_plane = (np.array(a).reshape(5, 5, 5) for a in json.loads(out.stdout))  # (z, y, x)
    rings = np.zeros((5, 5, 5), int)
    rings[1:4, 1:4, 1:4] = 1
    rings[1:4, 2, 2] = 0
    caps = rings.copy()
    caps[[1, 3], 2, 2] = 1
    assert (border3d == caps).all() and (in_plane == rings).all(), out.stderr
