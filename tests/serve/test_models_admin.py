"""Installing and removing models through the real service (SQLite and PostgreSQL): ``PUT`` and ``DELETE
/v1/models/{name}``, predicting with an installed model, and the refusals around them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.explain.helpers import tiny_segmentation_bundle
from tests.serve.server import Server
from tests.serve.test_api import png_bytes, submit
from tumorscope.bundle import Bundle

RUN_NAME = "tiny-run"  # the name inside the bundle's config (a training run's folder name) ...
INSTALLED = "tiny-seg"  # ... and the name an admin installs it under


def zip_folder(folder: Path, prefix: str, skip: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.name not in skip:
                z.write(f, f"{prefix}{f.relative_to(folder)}")
    return buf.getvalue()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """An untrained width-4 U-Net saved by save_bundle, its config naming the run it came from."""
    return tiny_segmentation_bundle(tmp_path_factory.mktemp("bundle") / RUN_NAME)


def put_model(client, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.put(f"/v1/models/{name}", files={"file": ("bundle.zip", data, "application/zip")})


def test_install_predict_remove(service: Server, tokens: dict[str, str], bundle: Bundle) -> None:
    zipped = zip_folder(bundle.path, f"{RUN_NAME}/")
    with service.client(tokens["clinician"]) as c:
        assert put_model(c, INSTALLED, zipped).status_code == 403
    with service.client(tokens["admin"]) as a:
        r = put_model(a, INSTALLED, zipped)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["name"], body["source"], body["task"]) == (INSTALLED, "installed", "segmentation")
        assert body["weights_sha256"] == bundle.config["weights_sha256"] and body["inputs"]["size"] == [32, 32]
        again = put_model(a, INSTALLED, zipped)
        assert again.status_code == 409 and INSTALLED in again.json()["detail"]
        assert put_model(a, "lgg-flair-seg", zipped).status_code == 409  # bundled names are taken too

    with service.client(tokens["clinician"]) as c:
        listed = {m["name"]: m for m in c.get("/v1/models").json()}
        assert listed[INSTALLED]["source"] == "installed" and listed["lgg-flair-seg"]["source"] == "bundled"
        done = c.post("/v1/predictions", files={"file": ("a.png", png_bytes(11))}, data={"model": INSTALLED},
                      headers={"Prefer": "wait=60"})
        assert done.status_code == 200 and done.json()["status"] == "done", done.text
        result = done.json()
        assert result["model"] == INSTALLED and result["weights_sha256"] == bundle.config["weights_sha256"]
        assert result["result"]["model"] == INSTALLED and result["result"]["n_slices"] == 1
        assert c.delete(f"/v1/models/{INSTALLED}").status_code == 403

    with service.client(tokens["admin"]) as a:
        assert a.delete(f"/v1/models/{INSTALLED}").status_code == 204
        assert not (service.data_dir / "models" / INSTALLED).exists()
        assert a.delete(f"/v1/models/{INSTALLED}").status_code == 404
        assert a.delete("/v1/models/no-such-model").status_code == 404
        kept = a.delete("/v1/models/lgg-flair-seg")
        assert kept.status_code == 409 and "bundled" in kept.json()["detail"]
        assert INSTALLED not in {m["name"] for m in a.get("/v1/models").json()}
        gone = submit(a, png_bytes(12), model=INSTALLED)
        assert gone.status_code == 404 and INSTALLED in gone.json()["detail"]
        # the finished prediction keeps its result after its model is gone
        assert a.get(f"/v1/predictions/{result['id']}").json()["status"] == "done"
        events = [e for e in a.get("/v1/audit").json()["events"] if e["action"].startswith("model_")]
        assert [(e["actor"], e["action"], e["summary"]["model"]) for e in events] == [
            ("ada", "model_install", INSTALLED), ("ada", "model_remove", INSTALLED)]
        assert events[0]["summary"]["weights_sha256"] == bundle.config["weights_sha256"]


def test_bad_bundles_and_names_are_refused(service: Server, tokens: dict[str, str], bundle: Bundle) -> None:
    with service.client(tokens["admin"]) as a:
        no_config = put_model(a, "no-config", zip_folder(bundle.path, "b/", skip=("config.json",)))
        assert no_config.status_code == 400 and "bundle" in no_config.json()["detail"]
        assert str(service.data_dir) not in no_config.json()["detail"]
        flat = put_model(a, "flat-no-weights", zip_folder(bundle.path, "", skip=("weights.safetensors",)))
        assert flat.status_code == 400
        not_zip = put_model(a, "not-a-zip", png_bytes(13))
        assert not_zip.status_code == 400 and "zip" in not_zip.json()["detail"]
        for bad in ("Tiny", "-tiny", "tiny seg", "t" * 65, "tiny%2Fseg"):
            r = put_model(a, bad, zip_folder(bundle.path, "b/"))
            assert r.status_code in (400, 404, 422), (bad, r.status_code)
        # weights that do not match the config's checksum: refused, nothing installed
        tampered = bundle.path.parent / "tampered"
        tampered.mkdir(exist_ok=True)
        (tampered / "config.json").write_bytes((bundle.path / "config.json").read_bytes())
        weights = bytearray((bundle.path / "weights.safetensors").read_bytes())
        weights[-1] ^= 0xFF
        (tampered / "weights.safetensors").write_bytes(bytes(weights))
        r = put_model(a, "tampered", zip_folder(tampered, "b/"))
        assert r.status_code == 400 and "checksum" in r.json()["detail"]
        installed = service.data_dir / "models"
        assert not installed.exists() or [p.name for p in installed.iterdir()] == []
        assert {m["name"] for m in a.get("/v1/models").json()}.isdisjoint(
            {"no-config", "flat-no-weights", "not-a-zip", "tampered"})


def test_concurrent_installs_of_one_name(service: Server, tokens: dict[str, str], bundle: Bundle) -> None:
    """Admins racing to install the same name: one wins, the others get 409 (never a 500 or a mixed folder)."""
    from concurrent.futures import ThreadPoolExecutor

    zipped = zip_folder(bundle.path, f"{RUN_NAME}/")
    with service.client(tokens["admin"]) as a, ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(lambda _: put_model(a, "raced", zipped).status_code, range(4)))
        assert statuses == [200, 409, 409, 409]
        assert [p.name for p in (service.data_dir / "models").iterdir()] == ["raced"]
        assert a.delete("/v1/models/raced").status_code == 204
