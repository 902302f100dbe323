"""The real service on loopback (uvicorn started by the test), on SQLite and on PostgreSQL: predictions,
files, reviews, the audit trail, metrics, and every error status of the contract."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.serve.server import Server, wait_done
from tumorscope.data.locate import shared_dataset


def png_bytes(seed: int = 0, size: int = 64) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def submit(client, data: bytes, name: str = "slice.png", **fields):  # type: ignore[no-untyped-def]
    return client.post("/v1/predictions", files={"file": (name, data)}, data=fields)


def lgg_slice() -> Path:
    root = shared_dataset("lgg_mri_segmentation")
    if root is None:
        pytest.skip("real dataset 'lgg_mri_segmentation' not found: needs ../shared/data/lgg_mri_segmentation")
    return root / "kaggle_3m" / "TCGA_CS_4942_19970222" / "TCGA_CS_4942_19970222_12.tif"


def test_health_and_auth(service: Server, tokens: dict[str, str]) -> None:
    with service.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        r = c.get("/v1/models")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and "token" in r.json()["detail"]
        bad = c.get("/v1/models", headers={"Authorization": "Bearer ts_0123456789abcdef_" + "x" * 43})
        assert bad.status_code == 401
        assert c.get("/v1/models", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    with service.client(tokens["clinician"]) as c:
        models = {m["name"]: m for m in c.get("/v1/models").json()}
        seg = models["lgg-flair-seg"]
        assert seg["task"] == "segmentation" and seg["metrics"]["cv_dice"] > 0.5 and seg["source"] == "bundled"
        assert len(seg["weights_sha256"]) == 64 and seg["version"].startswith("sha256:")
        assert {"brain-mri-tumor-type", "breast-us-lesion"} <= set(models)
        assert c.get("/v1/audit").status_code == 403  # admin only


def test_prediction_mask_equals_the_cli(service: Server, tokens: dict[str, str], tmp_path: Path) -> None:
    from tumorscope.cli import main

    src = lgg_slice()
    assert main(["predict", "-i", str(src), "-o", str(tmp_path / "cli")]) == 0
    with service.client(tokens["clinician"]) as c:
        r = submit(c, src.read_bytes(), "whatever.bin")
        assert r.status_code == 202 and set(r.json()) == {"id", "status"} and r.json()["status"] == "queued"
        body = wait_done(c, r.json()["id"])
        assert body["status"] == "done", body
        assert body["model"] == "lgg-flair-seg" and body["model_version"].startswith("sha256:")
        cli_summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
        for key in ("tumor_found", "volume_pixels", "n_components", "probability"):
            assert body["result"][key] == cli_summary[key], key
        assert "/" not in body["result"]["input"]  # no server path
        mask_name = body["result"]["mask_files"][0]
        got = c.get(f"/v1/predictions/{body['id']}/files/{mask_name}")
        assert got.status_code == 200
        served = np.asarray(Image.open(io.BytesIO(got.content)))
        expected = np.asarray(Image.open(tmp_path / "cli" / cli_summary["mask_files"][0]))
        np.testing.assert_array_equal(served, expected)
        assert served.any() == cli_summary["tumor_found"]
        assert json.loads(c.get(f"/v1/predictions/{body['id']}/files/summary.json").content)["model"] == "lgg-flair-seg"
        # the same bytes again: answered from the stored result, at once
        again = submit(c, src.read_bytes(), model="lgg-flair-seg", )
        assert again.status_code == 202 and again.json()["status"] == "done"
        second = c.get(f"/v1/predictions/{again.json()['id']}").json()
        assert second["answered_from"] == body["id"] and second["result"] == body["result"]


def test_prefer_wait_answers_with_the_result(service: Server, tokens: dict[str, str]) -> None:
    with service.client(tokens["clinician"]) as c:
        r = c.post("/v1/predictions", files={"file": ("a.png", png_bytes(7))}, headers={"Prefer": "wait=60"})
        assert r.status_code == 200 and r.json()["status"] == "done" and "summary.json" in r.json()["files"]


def test_review_accept_reject_correct(service: Server, tokens: dict[str, str]) -> None:
    with service.client(tokens["clinician"]) as c:
        pid = submit(c, png_bytes(1)).json()["id"]
        body = wait_done(c, pid)
        mask_name = body["result"]["mask_files"][0]
        ok = c.post(f"/v1/predictions/{pid}/review", json={"decision": "accept", "comment": "fine"})
        assert ok.status_code == 200 and ok.json()["reviewer"] == "carla" and ok.json()["decision"] == "accept"
        assert c.post(f"/v1/predictions/{pid}/review", json={"decision": "maybe"}).status_code == 422
        assert c.post(f"/v1/predictions/{pid}/review", content=b"{not json",
                      headers={"content-type": "application/json"}).status_code == 422
        assert c.post(f"/v1/predictions/{pid}/review", json={"decision": "correct"}).status_code == 422
        assert c.post("/v1/predictions/" + "0" * 32 + "/review", json={"decision": "accept"}).status_code == 404
        wrong = io.BytesIO()
        Image.fromarray(np.zeros((10, 12), np.uint8)).save(wrong, "PNG")
        bad = c.post(f"/v1/predictions/{pid}/review", data={"decision": "correct"},
                     files={"mask": ("m.png", wrong.getvalue())})
        assert bad.status_code == 400 and "shape" in bad.json()["detail"]
        fixed = np.zeros((64, 64), np.uint8)
        fixed[10:20, 10:30] = 255
        good = io.BytesIO()
        Image.fromarray(fixed).save(good, "PNG")
        r = c.post(f"/v1/predictions/{pid}/review", data={"decision": "correct", "comment": "tumor is larger"},
                   files={"mask": ("m.png", good.getvalue())})
        assert r.status_code == 200, r.text
        name = r.json()["corrected_mask"]
        back = np.asarray(Image.open(io.BytesIO(c.get(f"/v1/predictions/{pid}/files/{name}").content)))
        np.testing.assert_array_equal(back, fixed)
        # the prediction's own mask is untouched
        assert c.get(f"/v1/predictions/{pid}/files/{mask_name}").status_code == 200
        assert [rv["decision"] for rv in c.get(f"/v1/predictions/{pid}").json()["reviews"]] == ["accept", "correct"]
    with service.client(tokens["admin"]) as a:
        events = a.get("/v1/audit").json()["events"]
        mine = [e for e in events if e["prediction_id"] == pid]
        assert [e["action"] for e in mine][:2] == ["upload", "prediction"]
        reviews = [e for e in mine if e["action"] == "review"]
        assert [(e["actor"], e["decision"]) for e in reviews] == [("carla", "accept"), ("carla", "correct")]
        assert all(len(e["weights_sha256"]) == 64 and len(e["input_sha256"]) == 64 for e in mine)
        assert {e["comment"] for e in mine if e["action"] == "export"} == {"masks", "reviews"}
        assert any(e["action"] == "user_add" for e in events)
        assert a.get("/v1/audit", params={"since": "2999-01-01T00:00:00Z"}).json()["events"] == []
        assert a.get("/v1/audit", params={"since": "yesterday"}).status_code == 422


def test_error_statuses_and_the_server_stays_up(service: Server, tokens: dict[str, str]) -> None:
    with service.client(tokens["clinician"]) as c:
        r = submit(c, b"%PDF-1.4 not an image at all", "scan.png")
        assert r.status_code == 415 and "PNG" in r.json()["detail"]
        truncated = png_bytes(2)[:200]
        r = submit(c, truncated)
        assert r.status_code == 400 and "upload" in r.json()["detail"] and "/" not in r.json()["detail"].split(":")[0]
        assert not (service.data_dir / "uploads" / hashlib.sha256(truncated).hexdigest()).exists()  # not kept
        evil = io.BytesIO()
        with zipfile.ZipFile(evil, "w") as z:
            z.writestr("../../etc/evil.png", png_bytes(3))
        r = submit(c, evil.getvalue(), "study.zip")
        assert r.status_code == 400 and "evil.png" in r.json()["detail"]
        assert submit(c, png_bytes(4), model="no-such-model").status_code == 404
        assert c.post("/v1/predictions", data={"model": "lgg-flair-seg"}).status_code == 422
        assert c.get("/v1/predictions/" + "f" * 32).status_code == 404
        assert c.get("/v1/predictions/" + "f" * 40).status_code == 404
        pid = submit(c, png_bytes(5)).json()["id"]
        wait_done(c, pid)
        assert c.get(f"/v1/predictions/{pid}/files/nothing.txt").status_code == 404
        assert c.get(f"/v1/predictions/{pid}/files/..%2F..%2Ftumorscope.db").status_code == 404
        # over --max-upload: refused from the declared length, before any byte of the body
        with socket.create_connection(("127.0.0.1", service.port)) as s:
            s.sendall(b"POST /v1/predictions HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                      b"Authorization: Bearer " + tokens["clinician"].encode() + b"\r\n"
                      b"Content-Length: 999999999999\r\n\r\n")
            assert s.recv(4096).split(b"\r\n")[0].endswith(b"413 Request Entity Too Large")

        # ... and from the streamed body when no length is declared
        def chunks():  # type: ignore[no-untyped-def]
            yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n\r\n"
            for _ in range(service.max_upload // (1 << 20) + 2):
                yield bytes(1 << 20)

        r = c.post("/v1/predictions", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413
        assert c.get("/healthz").status_code == 200


def test_metrics_and_monitoring(service: Server, tokens: dict[str, str]) -> None:
    with service.client(tokens["clinician"]) as c:
        wait_done(c, submit(c, png_bytes(6)).json()["id"])
        text = c.get("/metrics").text
        assert 'tumorscope_predictions_total{model="lgg-flair-seg",outcome="done"}' in text
        assert "tumorscope_queue_length" in text and "tumorscope_http_request_duration_seconds_bucket" in text
        assert 'route="/v1/predictions"' in text
        assert 'tumorscope_drift_live_samples{model="lgg-flair-seg"}' in text
        mon = c.get("/v1/monitoring").json()["models"]["lgg-flair-seg"]
        assert mon["n_live"] >= 1 and mon["reference"] is True
