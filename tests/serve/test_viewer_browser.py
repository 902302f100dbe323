"""The web viewer in a real browser: Playwright drives Debian's Chromium (software WebGL, SwiftShader) against a
real `tumorscope serve` on loopback (SQLite). Sign in, upload a real LGG patient, wait for the prediction, find the
mask overlay drawn inside the lesion on a screenshot, paint a correction, accept, and find both reviews in the
audit trail; no console errors and no request off 127.0.0.1. Screenshots of each screen go to the test's folder
($TUMORSCOPE_SCREENSHOTS to keep them; TUMORSCOPE_WRITE_DOC_SCREENSHOTS=1 also refreshes docs/img/viewer-*.png)."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from tests.serve.browser import CHROMIUM, Watched, chromium, colour_share, publish_doc_shots, shots_dir
from tests.serve.server import Server

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (`make browser`: apt-get install -y chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright is not installed (the dev extra)"),
]
PATIENT = "TCGA_CS_4942_19970222"
HEATMAP_404 = ("/viewer/heatmap.nii.gz",)  # a prediction submitted without `explain` has none; the page says so


@pytest.fixture(scope="module")
def backend() -> None:
    """The browser test runs on SQLite only (conftest's ``service`` then starts a SQLite server)."""
    return None


@pytest.fixture(scope="module")
def server(service: Server) -> Server:
    return service


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _patient_zip(lgg_dir: Path, tmp_path: Path) -> Path:
    folder = next(lgg_dir.rglob(PATIENT))
    target = tmp_path / f"{PATIENT}.zip"
    with zipfile.ZipFile(target, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"{PATIENT}/{f.name}")
    return target


def _assert_clean(*pages: Watched) -> None:
    for w in pages:
        assert w.external == [], f"requests left 127.0.0.1: {w.external}"
        assert w.errors == [], f"console errors: {w.errors}"


def test_page_reports_errors_instead_of_a_blank_page(server: Server, tokens: dict[str, str], browser: Any,
                                                     tmp_path: Path) -> None:
    missing = uuid.uuid4().hex
    w = Watched(browser, server.url, shots_dir(tmp_path), allowed_404=(f"/v1/predictions/{missing}",))
    page = w.page
    assert page.evaluate("!!document.createElement('canvas').getContext('webgl2')"), "no WebGL2 in this Chromium"
    page.goto(server.url + "/")
    page.fill("#token", "ts_0000000000000000_not-a-token")
    with page.expect_response("**/v1/models") as answer:
        page.click("form.signin button[type=submit]")
    assert answer.value.status == 401
    page.wait_for_selector("#errors .error")  # the page renders the refusal after the response lands
    assert "this token is not valid" in page.locator("#errors").inner_text()
    w.errors = [e for e in w.errors if "status of 401" not in e]  # the refused sign-in, reported on the page
    w.sign_in(tokens["clinician"])
    page.goto(f"{server.url}/#/study/{missing}")
    page.wait_for_selector("#errors .error")
    assert f"no prediction '{missing}'" in page.locator("#errors").inner_text()
    w.shot("error-unknown-prediction")
    _assert_clean(w)
    w.close()


def _mask_of(server: Server, token: str, pid: str) -> np.ndarray:
    with server.client(token) as c:
        answer = c.get(f"/v1/predictions/{pid}/viewer/mask.nii.gz")
    assert answer.status_code == 200, answer.text
    return np.asarray(nib.Nifti1Image.from_bytes(gzip.decompress(answer.content)).dataobj) > 0


def _canvas_points(page: Any, voxels: np.ndarray) -> np.ndarray:
    points = page.evaluate("(vs) => vs.map((v) => window.tumorscopeViewer.canvasPoint(v))", voxels.tolist())
    assert all(p is not None for p in points), "voxels not on the shown slice"
    return np.array(points, dtype=float)


def _sample(mask2d: np.ndarray, k: int, n: int = 300) -> np.ndarray:
    ij = np.argwhere(mask2d)
    ij = ij[np.linspace(0, len(ij) - 1, min(n, len(ij))).astype(int)]
    return np.column_stack([ij, np.full(len(ij), k)])


def _paint(w: Watched, voxels: np.ndarray) -> None:
    box = w.page.locator("#gl").bounding_box()
    points = _canvas_points(w.page, voxels) + [box["x"], box["y"]]
    w.page.mouse.move(*points[0])
    w.page.mouse.down()
    for p in points[1:]:
        w.page.mouse.move(*p, steps=2)
    w.page.mouse.up()


@pytest.mark.shared_data
@pytest.mark.slow
def test_review_an_lgg_patient_in_the_viewer(server: Server, tokens: dict[str, str], browser: Any, lgg_dir: Path,
                                             tmp_path: Path) -> None:
    shots = shots_dir(tmp_path)
    w = Watched(browser, server.url, shots, allowed_404=HEATMAP_404)
    page = w.page
    w.sign_in(tokens["clinician"])
    page.set_input_files("#upload-file", str(_patient_zip(lgg_dir, tmp_path)))
    page.select_option("#upload-model", "lgg-flair-seg")
    page.click("form.upload button[type=submit]")
    page.wait_for_function("() => window.tumorscopeViewer && window.tumorscopeViewer.mask", timeout=240_000)
    pid = page.evaluate("location.hash").rsplit("/", 1)[1]
    assert page.locator("#ai-banner").inner_text() == "AI result — not for diagnosis"
    assert page.locator("#lesion-table tbody tr").count() >= 1
    assert "heatmap not computed" in page.locator("#heatmap-missing").inner_text()
    assert page.locator("#model-card").get_attribute("href") == "#/models/lgg-flair-seg/card"

    # the overlay: red inside the AI mask on the slice where it is largest, none away from it
    mask = _mask_of(server, tokens["clinician"], pid)
    k = int(mask.sum(axis=(0, 1)).argmax())
    centre = np.argwhere(mask[:, :, k]).mean(axis=0).round().astype(int)
    page.evaluate("(v) => window.tumorscopeViewer.goToVoxel(v)", [*centre.tolist(), k])
    page.wait_for_timeout(500)
    interior = ndimage.binary_erosion(mask[:, :, k], iterations=2)
    far = ~ndimage.binary_dilation(mask[:, :, k], iterations=6)
    study = w.shot("study", locator=page.locator("#gl"))
    inside, outside = _canvas_points(page, _sample(interior, k)), _canvas_points(page, _sample(far, k))
    assert colour_share(study, inside, "red") > 0.9
    assert colour_share(study, outside, "red") < 0.02
    w.shot("study")
    page.check("#ov-outline")
    page.wait_for_timeout(300)
    deep = _canvas_points(page, _sample(ndimage.binary_erosion(mask[:, :, k], iterations=4), k))
    assert colour_share(w.shot("study-outline", locator=page.locator("#gl")), deep, "red") < 0.1
    page.uncheck("#ov-outline")

    # correct: paint a stroke from the lesion's edge outwards, undo it, paint it again, erase its end, save
    page.click("#review-correct")
    page.wait_for_selector(".toolbar.correction:not([hidden])")
    edge = int(np.nonzero(mask[:, int(centre[1]), k])[0].max())
    stroke = np.array([[i, int(centre[1]), k] for i in range(edge - 2, min(edge + 23, mask.shape[0] - 2))])
    beside = stroke[6:]  # outside the AI mask
    page.locator("#brush-size").fill("8")
    _paint(w, stroke)
    assert page.is_enabled("#tool-undo")
    page.keyboard.press("z")
    page.wait_for_timeout(300)
    assert colour_share(w.shot("undone", locator=page.locator("#gl")), _canvas_points(page, beside), "red") < 0.1
    _paint(w, stroke)
    page.keyboard.press("e")  # the eraser takes back the stroke's end
    _paint(w, stroke[-6:])
    page.keyboard.press("b")
    assert page.locator("#tool-brush.active").count() == 1
    page.wait_for_timeout(300)
    painted = w.shot("painted", locator=page.locator("#gl"))
    kept, erased = _canvas_points(page, stroke[6:14]), _canvas_points(page, stroke[-2:])
    assert colour_share(painted, kept, "red") > 0.8 and colour_share(painted, erased, "red") == 0
    page.fill("#review-comment", "extended the margin laterally")
    w.shot("correction")
    page.click("#save-correction")
    page.wait_for_function("() => document.querySelector('#review-result').textContent.includes('saved as review')")
    assert "edit Dice" in page.locator("#review-result").inner_text()
    page.wait_for_function("() => window.tumorscopeViewer.corrected")
    page.wait_for_timeout(300)
    # the correction bar is gone (the canvas was laid out anew) and the crosshair now runs along the stroke's
    # row: look two voxel rows beside it, still inside the brush's width
    kept = _canvas_points(page, np.concatenate([stroke[6:14] + [0, d, 0] for d in (-2, 2)]))
    assert colour_share(w.shot("corrected", locator=page.locator("#gl")), kept, "green") > 0.8

    page.fill("#review-comment", "agree after the correction")
    page.click("#review-accept")
    page.wait_for_function("() => document.querySelector('#review-result').textContent.startsWith('accept saved')")
    page.wait_for_selector("#review-history li:nth-child(2)")

    page.keyboard.press("?")
    page.wait_for_selector("#help:not([hidden])")
    assert page.locator("#help-body kbd").count() > 15
    w.shot("help")
    page.keyboard.press("Escape")

    page.keyboard.press("g")
    page.wait_for_selector(f"tr[data-id='{pid}'] .badge.review-accept")
    w.shot("worklist")
    page.goto(f"{server.url}/#/models/lgg-flair-seg/card")
    assert "lgg-flair-seg" in page.locator(".card-text").inner_text()
    w.shot("model-card")
    _check_sizes(browser, server, tokens["clinician"], pid, shots)

    with server.client(tokens["admin"]) as c:
        events = c.get("/v1/audit", params={"since": datetime.now(UTC).date().isoformat()}).json()["events"]
    reviews = [e for e in events if e["action"] == "review" and e["prediction_id"] == pid]
    assert [(e["decision"], e["comment"]) for e in reviews] == [
        ("correct", "extended the margin laterally"), ("accept", "agree after the correction")]
    assert 0 < reviews[0]["summary"]["edit_dice"] < 1 and reviews[0]["summary"]["changed_voxels"] >= 10
    # ... and the accepted correction is what `tumorscope feedback export` hands to training
    from tumorscope.cli import main

    assert main(["feedback", "export", "--data-dir", str(server.data_dir), "-o", str(tmp_path / "feedback")]) == 0
    with open(tmp_path / "feedback" / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["prediction_id"] == pid]
    assert len(rows) == 1 and rows[0]["case"] == PATIENT and rows[0]["mask_source"] == "corrected"
    assert abs(float(rows[0]["edit_dice"]) - reviews[0]["summary"]["edit_dice"]) < 1e-3
    _assert_clean(w)
    w.close()
    publish_doc_shots(shots)


def _check_sizes(browser: Any, server: Server, token: str, pid: str, shots: Path) -> None:
    """The study view fills a 1280x720 and a 3840x2160 window: no sideways scrolling, the canvas large, the
    toolbar, banner and review buttons on screen, the overlay drawn."""
    for width, height in ((1280, 720), (3840, 2160)):
        w = Watched(browser, server.url, shots, viewport=(width, height), allowed_404=HEATMAP_404)
        w.sign_in(token)
        w.page.goto(f"{server.url}/#/study/{pid}")
        w.page.wait_for_function("() => window.tumorscopeViewer && window.tumorscopeViewer.mask")
        w.page.wait_for_timeout(500)
        rgb = w.shot(f"study-{width}x{height}")
        assert w.page.evaluate("document.documentElement.scrollWidth") <= width
        canvas = w.page.locator("#gl").bounding_box()
        x, y = int(canvas["x"]), int(canvas["y"])
        rgb = rgb[y:y + int(canvas["height"]), x:x + int(canvas["width"])]
        assert canvas["width"] > 0.5 * width and canvas["height"] > 0.55 * height
        for selector in ("#ai-banner", ".viewer-tools", "#review-accept"):
            box = w.page.locator(selector).bounding_box()
            assert box and box["y"] + box["height"] <= height, selector
        red = (rgb[..., 0] - rgb[..., 1] > 45) & (rgb[..., 0] - rgb[..., 2] > 45)
        assert red.sum() > 100 * (width / 1280) ** 2
        _assert_clean(w)
        w.close()
