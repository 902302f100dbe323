"""The viewer's backend on the real service (SQLite and PostgreSQL): the worklist, the input, AI mask, heatmap
and corrected masks as NIfTI volumes in one voxel grid, lesions in the summary, corrections drawn in that grid
(edit Dice in the answer, the database and the audit trail), model cards."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import httpx
import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from tests.serve.server import Server, wait_done
from tests.serve.test_api import png_bytes, submit
from tumorscope.bundle.bundle import ZOO
from tumorscope.data.locate import shared_dataset
from tumorscope.data.phantom import brain_phantom

SIZE = 128


def phantom() -> np.ndarray:
    """(3, 128, 128, 3) kaggle_3m-like phantom slices; lgg-flair-seg finds the lesion of slice 1."""
    return brain_phantom(3, size=SIZE, seed=0)[0]


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def nifti(data: bytes) -> Any:
    return nib.Nifti1Image.from_bytes(gzip.decompress(data))


def gz_nifti(data: np.ndarray, affine: np.ndarray, like: Any = None) -> bytes:
    header = None
    if like is not None:  # what a viewer's drawing export does: the image's header, uint8 voxels
        header = like.header.copy()
        header.set_data_dtype(np.uint8)
    return gzip.compress(nib.Nifti1Image(data, affine, header).to_bytes())


def done(c: httpx.Client, data: bytes, name: str = "slice.png", timeout: float = 180, **fields: str) -> dict[str, Any]:
    r = submit(c, data, name, **fields)
    assert r.status_code == 202, r.text
    body = wait_done(c, r.json()["id"], timeout=timeout)
    assert body["status"] == "done", body
    return body


def volume(c: httpx.Client, pid: str, name: str) -> Any:
    r = c.get(f"/v1/predictions/{pid}/viewer/{name}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/gzip" and "content-encoding" not in r.headers
    return nifti(r.content)


def expected_lesions(mask: np.ndarray) -> list[tuple[int, list[int], list[float]]]:
    """(voxels, [first_k, last_k], [i, j, k] centroid) of each component of a (N, Y, X) mask, largest first,
    computed here with scipy (full connectivity)."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    out = []
    for c in range(1, n + 1):
        where = np.argwhere(labels == c)
        k, y, x = where.mean(axis=0)
        out.append((len(where), [int(where[:, 0].min()), int(where[:, 0].max())], [x, y, k]))
    return sorted(out, key=lambda t: (-t[0], t[1][0]))


def assert_lesions(lesions: list[dict[str, Any]], mask: np.ndarray, voxel_mm3: float | None) -> None:
    want = expected_lesions(mask)
    assert [les["id"] for les in lesions] == list(range(1, len(want) + 1))
    for les, (voxels, slices, centroid) in zip(lesions, want, strict=True):
        assert les["voxels"] == voxels and les["slices"] == slices
        np.testing.assert_allclose(les["centroid"], centroid, atol=0.01)
        assert les["volume_mm3"] == (pytest.approx(voxels * voxel_mm3) if voxel_mm3 else None)
        assert 0.5 <= les["max_probability"] <= 1.0


@pytest.fixture(scope="module")
def explained(service: Server, tokens: dict[str, str]) -> dict[str, Any]:
    """The phantom's slice 1 predicted with a saliency heatmap."""
    with service.client(tokens["clinician"]) as c:
        return done(c, png(phantom()[1]), explain="saliency")


def test_worklist_pages_filters_and_review_state(service: Server, tokens: dict[str, str]) -> None:
    with service.client(tokens["clinician"]) as c:
        ids = [submit(c, png_bytes(100 + i)).json()["id"] for i in range(3)]
        bodies = [wait_done(c, pid) for pid in ids]
        first = c.get("/v1/predictions", params={"limit": 3})
        assert first.status_code == 200, first.text
        listing = first.json()
        assert [it["id"] for it in listing["items"]] == ids[::-1]  # newest first
        total = listing["total"]
        assert total >= 3
        item = listing["items"][0]
        assert set(item) == {"id", "status", "model", "model_version", "created_at", "finished_at", "input_kind",
                             "finding", "review"}
        newest = bodies[-1]
        assert item["status"] == "done" and item["model"] == "lgg-flair-seg" and item["input_kind"] == "png"
        assert item["model_version"] == newest["model_version"] and item["finished_at"] is not None
        assert item["finding"] == {"tumor_found": newest["result"]["tumor_found"],
                                   "probability": newest["result"]["probability"], "predicted": None,
                                   "n_lesions": newest["result"]["n_components"], "volume_mm3": None}
        assert item["review"] == {"state": "unreviewed", "count": 0, "last_reviewer": None}

        second = c.get("/v1/predictions", params={"limit": 1, "offset": 1}).json()
        assert [it["id"] for it in second["items"]] == [ids[1]] and second["total"] == total
        assert c.get("/v1/predictions", params={"offset": total}).json() == {"total": total, "items": []}
        everything = c.get("/v1/predictions", params={"limit": 500}).json()["items"]
        times = [it["created_at"] for it in everything]
        assert len(everything) == total and times == sorted(times, reverse=True)

        assert c.post(f"/v1/predictions/{ids[0]}/review", json={"decision": "accept"}).status_code == 200
        assert c.post(f"/v1/predictions/{ids[0]}/review", json={"decision": "reject"}).status_code == 200
    with service.client(tokens["admin"]) as a:
        assert a.post(f"/v1/predictions/{ids[1]}/review", json={"decision": "accept"}).status_code == 200
        reviewed = {it["id"]: it["review"] for it in a.get("/v1/predictions", params={"limit": 3}).json()["items"]}
    assert reviewed[ids[0]] == {"state": "reject", "count": 2, "last_reviewer": "carla"}  # the last decision
    assert reviewed[ids[1]] == {"state": "accept", "count": 1, "last_reviewer": "ada"}
    assert reviewed[ids[2]]["state"] == "unreviewed"

    with service.client(tokens["clinician"]) as c:
        by_status = {s: c.get("/v1/predictions", params={"status": s, "limit": 500}).json()
                     for s in ("queued", "running", "done", "failed")}
        assert sum(v["total"] for v in by_status.values()) == total
        assert all(it["status"] == s for s, v in by_status.items() for it in v["items"])
        assert set(ids) <= {it["id"] for it in by_status["done"]["items"]}
        for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "finished"}, {"limit": "ten"},
                    {"offset": 2**31}):
            r = c.get("/v1/predictions", params=bad)
            assert r.status_code == 422, bad
            assert r.json()["detail"]
    with service.client() as anonymous:
        assert anonymous.get("/v1/predictions").status_code == 401


def test_slice_input_volumes_align(service: Server, tokens: dict[str, str], explained: dict[str, Any]) -> None:
    """A PNG becomes a one-slice volume: image (the FLAIR display channel, uint8) and mask in one grid, the
    mask equal to the PNG mask of /files/, the lesions equal to its components."""
    pid, result = explained["id"], explained["result"]
    with service.client(tokens["clinician"]) as c:
        image, mask = volume(c, pid, "image.nii.gz"), volume(c, pid, "mask.nii.gz")
        png_mask = np.asarray(Image.open(io.BytesIO(c.get(f"/v1/predictions/{pid}/files/"
                                                          f"{result['mask_files'][0]}").content)))
    assert image.shape == mask.shape == (SIZE, SIZE, 1)
    np.testing.assert_array_equal(image.affine, mask.affine)
    assert image.get_data_dtype() == np.uint8 and mask.get_data_dtype() == np.uint8
    voxels = np.asarray(mask.dataobj)
    assert set(np.unique(voxels).tolist()) <= {0, 1} and voxels.any()  # the phantom's lesion is found
    np.testing.assert_array_equal(voxels[:, :, 0].T, png_mask // 255)  # voxel (i, j, k) = pixel (x, y) of slice k
    np.testing.assert_array_equal(np.asarray(image.dataobj)[:, :, 0].T, phantom()[1][..., 1])
    assert result["viewer"]["image"] == "viewer/image.nii.gz"
    assert_lesions(result["lesions"], voxels.T.astype(bool), None)
    assert len(result["lesions"]) == result["n_components"]


def test_heatmap(service: Server, tokens: dict[str, str], explained: dict[str, Any]) -> None:
    with service.client(tokens["clinician"]) as c:
        image, heat = volume(c, explained["id"], "image.nii.gz"), volume(c, explained["id"], "heatmap.nii.gz")
        plain = done(c, png(phantom()[0]))
        assert c.get(f"/v1/predictions/{plain['id']}/viewer/heatmap.nii.gz").status_code == 404
        assert c.get(f"/v1/predictions/{plain['id']}/viewer/image.nii.gz").status_code == 200
        unknown = submit(c, png(phantom()[2]), explain="tea-leaves")
        assert unknown.status_code == 422 and "saliency" in unknown.json()["detail"]
        classify = submit(c, png(phantom()[2]), model="brain-mri-tumor-type", explain="saliency")
        assert classify.status_code == 422 and "segmentation" in classify.json()["detail"]
    values = np.asarray(heat.dataobj)
    assert heat.shape == image.shape and heat.get_data_dtype() == np.float32
    np.testing.assert_array_equal(heat.affine, image.affine)
    assert values.min() >= 0.0 and values.max() == pytest.approx(1.0)
    viewer = explained["result"]["viewer"]
    assert viewer["heatmap"] == "viewer/heatmap.nii.gz" and viewer["heatmap_method"] == "saliency"
    assert viewer["heatmap_slices"] == [0]


def test_nifti_volume_keeps_its_geometry(service: Server, tokens: dict[str, str], tmp_path: Path) -> None:
    """A NIfTI volume: image.nii.gz holds its real intensities with its own affine, the mask is predict's
    mask.nii.gz in that grid; lesion volumes in mm^3."""
    flair = phantom()[..., 1].astype(np.int16) * 3  # (3, 128, 128), not uint8 display values
    affine = np.array([[0.9, 0, 0, -50.0], [0, 0.9, 0, 20.0], [0, 0, 2.5, 7.5], [0, 0, 0, 1]])
    data = gz_nifti(np.ascontiguousarray(flair.transpose(2, 1, 0)), affine)
    with service.client(tokens["clinician"]) as c:
        body = done(c, data, "scan.nii.gz")
        image, mask = volume(c, body["id"], "image.nii.gz"), volume(c, body["id"], "mask.nii.gz")
        predicted = c.get(f"/v1/predictions/{body['id']}/files/mask.nii.gz").content
    np.testing.assert_allclose(image.affine, affine, atol=1e-5)
    np.testing.assert_array_equal(image.affine, mask.affine)
    np.testing.assert_array_equal(np.asarray(image.dataobj), flair.transpose(2, 1, 0))
    np.testing.assert_array_equal(np.asarray(mask.dataobj), np.asarray(nifti(predicted).dataobj))
    assert body["result"]["viewer"]["mask"] == "mask.nii.gz"
    assert_lesions(body["result"]["lesions"], np.asarray(mask.dataobj).T.astype(bool), 0.9 * 0.9 * 2.5)


def test_correction_drawn_in_the_viewer_grid(service: Server, tokens: dict[str, str],
                                             explained: dict[str, Any]) -> None:
    pid = explained["id"]
    with service.client(tokens["clinician"]) as c:
        image = volume(c, pid, "image.nii.gz")
        ai = np.asarray(volume(c, pid, "mask.nii.gz").dataobj) != 0
        drawn = ai.copy()
        drawn[10:30, 40:50, 0] = True  # a region the AI missed ...
        drawn[np.argwhere(ai)[0][0], :, 0] = False  # ... and a column of its mask erased
        values = np.where(drawn, 2, 0).astype(np.uint8)  # a viewer's pen colour: nonzero = tumor
        r = c.post(f"/v1/predictions/{pid}/review", data={"decision": "correct", "comment": "extends medially"},
                   files={"mask": ("drawing.nii.gz", gz_nifti(values, image.affine, image))})
        assert r.status_code == 200, r.text
        review = r.json()
        dice = 2 * np.logical_and(ai, drawn).sum() / (ai.sum() + drawn.sum())
        assert review["edit_dice"] == pytest.approx(dice, abs=1e-6) and 0 < dice < 1
        assert review["changed_voxels"] == int((ai != drawn).sum())
        corrected = volume(c, pid, f"corrected/{review['id']}.nii.gz")
        np.testing.assert_array_equal(corrected.affine, image.affine)
        np.testing.assert_array_equal(np.asarray(corrected.dataobj), drawn.astype(np.uint8))
        shown = [rv for rv in c.get(f"/v1/predictions/{pid}").json()["reviews"] if rv["id"] == review["id"]]
        assert shown[0]["edit_dice"] == review["edit_dice"] and shown[0]["changed_voxels"] == review["changed_voxels"]

        wrong_shape = gz_nifti(np.zeros((64, 64, 1), np.uint8), image.affine)
        r = c.post(f"/v1/predictions/{pid}/review", data={"decision": "correct"},
                   files={"mask": ("m.nii.gz", wrong_shape)})
        assert r.status_code == 400 and "shape" in r.json()["detail"]
        wrong_grid = gz_nifti(values, np.diag([2.0, 2.0, 2.0, 1.0]))
        r = c.post(f"/v1/predictions/{pid}/review", data={"decision": "correct"},
                   files={"mask": ("m.nii.gz", wrong_grid)})
        assert r.status_code == 400 and "affine" in r.json()["detail"]

        # a PNG correction (the 2-D path) is shown in the grid too
        fixed = np.zeros((SIZE, SIZE), np.uint8)
        fixed[5:9, 60:70] = 255
        r = c.post(f"/v1/predictions/{pid}/review", data={"decision": "correct"}, files={"mask": ("m.png", png(fixed))})
        assert r.status_code == 200, r.text
        assert r.json()["changed_voxels"] == int(((fixed > 0) != ai[:, :, 0].T).sum())
        from_png = volume(c, pid, f"corrected/{r.json()['id']}.nii.gz")
        np.testing.assert_array_equal(np.asarray(from_png.dataobj)[:, :, 0].T, fixed // 255)
        np.testing.assert_array_equal(from_png.affine, image.affine)
        assert c.get(f"/v1/predictions/{pid}/viewer/corrected/999999.nii.gz").status_code == 404
        assert c.get(f"/v1/predictions/{pid}/viewer/corrected/{2**63}.nii.gz").status_code == 422
    with service.client(tokens["admin"]) as a:
        events = [e for e in a.get("/v1/audit").json()["events"] if e["prediction_id"] == pid]
    corrections = [e for e in events if e["action"] == "review" and e["decision"] == "correct"]
    assert corrections[0]["summary"] == {"edit_dice": review["edit_dice"], "changed_voxels": review["changed_voxels"]}
    assert {"viewer/image", "viewer/mask", "viewer/corrected"} <= {e["comment"] for e in events
                                                                   if e["action"] == "export"}


def test_zipped_kaggle_patient_mask_volume(service: Server, tokens: dict[str, str], backend: str | None) -> None:
    """A real kaggle_3m patient: the mask volume is the stack of the PNG masks (k = slice order of
    mask_files), the image its FLAIR slices; lesions are the volume's components."""
    if backend is not None:
        pytest.skip("reading inputs does not depend on the database: the patient runs once, on SQLite")
    from tests.serve.test_inputs import PATIENT, zip_folder

    root = shared_dataset("lgg_mri_segmentation")
    if root is None:
        pytest.skip("real dataset 'lgg_mri_segmentation' not found: needs ../shared/data/lgg_mri_segmentation")
    folder = root / "kaggle_3m" / PATIENT
    with service.client(tokens["clinician"]) as c:
        body = done(c, zip_folder(folder), "patient.zip", timeout=300)
        image, mask = volume(c, body["id"], "image.nii.gz"), volume(c, body["id"], "mask.nii.gz")
        names = body["result"]["mask_files"]
        pngs = [np.asarray(Image.open(io.BytesIO(c.get(f"/v1/predictions/{body['id']}/files/{n}").content)))
                for n in names]
    stack = np.stack(pngs) // 255  # (N, Y, X)
    assert mask.shape == image.shape == stack.shape[::-1]
    np.testing.assert_array_equal(image.affine, mask.affine)
    np.testing.assert_array_equal(np.asarray(mask.dataobj), stack.transpose(2, 1, 0))
    flair = np.stack([np.asarray(Image.open(folder / f"{Path(n).name.removesuffix('_mask.png')}.tif"))[..., 1]
                      for n in names])
    np.testing.assert_array_equal(np.asarray(image.dataobj), flair.transpose(2, 1, 0))
    assert stack.any() and body["result"]["n_components"] == len(body["result"]["lesions"])
    assert_lesions(body["result"]["lesions"], stack.astype(bool), None)


def test_model_card_and_refusals(service: Server, tokens: dict[str, str]) -> None:
    with service.client(tokens["clinician"]) as c:
        r = c.get("/v1/models/lgg-flair-seg/card")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
        assert r.text == (ZOO / "lgg-flair-seg" / "card.md").read_text()
        assert c.get("/v1/models/no-such-model/card").status_code == 404
        assert c.get("/v1/predictions/" + "0" * 32 + "/viewer/image.nii.gz").status_code == 404
        assert c.get("/v1/predictions/" + "0" * 32 + "/viewer/corrected/1.nii.gz").status_code == 404
    with service.client() as anonymous:
        assert anonymous.get("/v1/models/lgg-flair-seg/card").status_code == 401
        assert anonymous.get("/v1/predictions/" + "0" * 32 + "/viewer/mask.nii.gz").status_code == 401
    paths = httpx.get(f"{service.url}/openapi.json").json()["paths"]
    for route in ("/v1/predictions/{pid}/viewer/image.nii.gz", "/v1/predictions/{pid}/viewer/mask.nii.gz",
                  "/v1/predictions/{pid}/viewer/heatmap.nii.gz",
                  "/v1/predictions/{pid}/viewer/corrected/{review_id}.nii.gz", "/v1/models/{name}/card"):
        assert {"401", "404"} <= set(next(iter(paths[route].values()))["responses"]), route
    assert {"200", "401", "422"} <= set(paths["/v1/predictions"]["get"]["responses"])
