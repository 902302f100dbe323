"""``tumorscope feedback export`` from a database and data dir filled through a real service (SQLite): the latest
review decides, accepted cases carry the model's mask and corrected ones the reviewer's, rejected and unreviewed
ones stay out, the layout is one the dataset readers and ``train --init`` read, and no PHI gets in."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from PIL import Image

from tests.serve.server import Server, wait_done
from tests.serve.test_phi import NEEDLES, phi_series_zip
from tests.synthetic import write_kaggle3m
from tumorscope.cli import main
from tumorscope.data.dataset import load_dataset
from tumorscope.errors import TumorscopeError
from tumorscope.io import read_image
from tumorscope.serve.db import open_database
from tumorscope.serve.feedback_export import export_feedback
from tumorscope.serve.settings import Settings

MODEL = "lgg-flair-seg"


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (40, 40), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def patient_zip(folder: Path) -> bytes:
    """A kaggle_3m patient folder zipped as a clinic would send it: the images, not the expert masks."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.iterdir()):
            if not f.name.endswith("_mask.tif"):
                z.write(f, f"{folder.name}/{f.name}")
    return buf.getvalue()


def planted_volume(ai_mask: bytes, path: Path) -> Path:
    """A reviewer's NIfTI correction: the model's mask.nii.gz (its geometry) with a block of tumor painted in."""
    import nibabel as nib

    path.with_name("ai.nii.gz").write_bytes(ai_mask)
    ai = nib.load(path.with_name("ai.nii.gz"))
    data = np.zeros(ai.shape, np.uint8)
    data[10:30, 12:24, 1:3] = 1
    nib.save(nib.Nifti1Image(data, ai.affine), path)
    return path


def tiff_stack(masks: np.ndarray) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, masks.astype(np.uint8) * np.uint8(255), photometric="minisblack")  # pages, not planes
    return buf.getvalue()


class Clinic:
    """A clinician's session: submit, wait, review; remembers each prediction."""

    def __init__(self, client: Any) -> None:
        self.c = client

    def predict(self, data: bytes, name: str) -> dict[str, Any]:
        r = self.c.post("/v1/predictions", files={"file": (name, data)}, data={"model": MODEL},
                        headers={"Prefer": "wait=60"})
        assert r.status_code in (200, 202), r.text
        body = wait_done(self.c, r.json()["id"])
        assert body["status"] == "done", body
        return body

    def review(self, pid: str, decision: str, mask: bytes | None = None) -> None:
        if mask is None:
            r = self.c.post(f"/v1/predictions/{pid}/review", json={"decision": decision, "comment": "Phisecret"})
        else:
            r = self.c.post(f"/v1/predictions/{pid}/review", data={"decision": decision},
                            files={"mask": ("m.tif", mask)})
        assert r.status_code == 200, r.text

    def masks(self, pred: dict[str, Any]) -> np.ndarray:
        """The model's mask of a 2-D prediction as (N, Y, X) bool, downloaded as a client would."""
        out = []
        for name in pred["result"]["mask_files"]:
            data = self.c.get(f"/v1/predictions/{pred['id']}/files/{name}").content
            out.append(np.asarray(Image.open(io.BytesIO(data))) > 0)
        return np.stack(out)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A service whose predictions were reviewed in every way the export must tell apart."""
    tmp = tmp_path_factory.mktemp("feedback")
    kaggle = write_kaggle3m(tmp / "lgg", n_patients=2, n_slices=3, size=128) / "kaggle_3m"  # the model finds #0's lesion
    server = Server(tmp / "data").start()
    try:
        token = server.add_user("carla", "clinician")
        with server.client(token) as client:
            clinic = Clinic(client)
            k0, k1 = sorted(kaggle.iterdir())
            p_k0 = clinic.predict(patient_zip(k0), "patient0.zip")
            p_k1 = clinic.predict(patient_zip(k1), "patient1.zip")
            p_a1 = clinic.predict(png(1), "Sentinelname_a.png")
            p_a2 = clinic.predict(png(1), "a_again.png")  # the same bytes: answered from p_a1, the same case
            p_b = clinic.predict(png(2), "b.png")
            clinic.predict(png(3), "c.png")  # never reviewed
            p_dcm = clinic.predict(phi_series_zip(tmp), "Sentinelname_Phisecret.zip")
            planted = np.zeros((3, 128, 128), bool)
            planted[1:3, 40:80, 20:60] = True
            clinic.review(p_k0["id"], "accept")
            clinic.review(p_k1["id"], "correct", tiff_stack(planted))
            clinic.review(p_a2["id"], "accept")  # superseded by p_a1's later review: a duplicate
            clinic.review(p_a1["id"], "reject")
            clinic.review(p_a1["id"], "accept")  # the latest review decides: exported
            clinic.review(p_b["id"], "accept")
            clinic.review(p_b["id"], "reject")  # latest: rejected
            corrected = planted_volume(client.get(f"/v1/predictions/{p_dcm['id']}/files/mask.nii.gz").content,
                                       tmp / "corrected.nii.gz")
            clinic.review(p_dcm["id"], "correct", corrected.read_bytes())
            ai = {"k0": clinic.masks(p_k0), "k1": clinic.masks(p_k1), "a": clinic.masks(p_a1)}
    finally:
        server.stop()
    assert ai["k0"].sum() > 100  # an accepted mask with a tumor in it: its export is no empty-mask coincidence
    yield {"server": server, "tmp": tmp, "kaggle": kaggle, "planted": planted, "ai": ai,
           "corrected_volume": read_image(corrected).array[..., 0] > 0,
           "ids": {k: p["id"] for k, p in (("k0", p_k0), ("k1", p_k1), ("a", p_a1), ("dcm", p_dcm))},
           "sha": {"a": p_a1["input_sha256"], "dcm": p_dcm["input_sha256"]}}


@pytest.fixture(scope="module")
def exported(served: dict[str, Any]) -> tuple[Path, str]:
    out = served["tmp"] / "export"
    code = main(["feedback", "export", "--data-dir", str(served["server"].data_dir), "-o", str(out)])
    assert code == 0
    return out, f"case-{served['sha']['a'][:12]}"


def test_counts_and_manifest(served: dict[str, Any], exported: tuple[Path, str]) -> None:
    out, case_a = exported
    prov = json.loads((out / "provenance.json").read_text())
    counts = prov["counts"]
    assert {k: counts[k] for k in ("exported", "accepted", "corrected", "rejected", "unreviewed", "duplicates",
                                   "unreadable")} == {"exported": 4, "accepted": 2, "corrected": 2, "rejected": 1,
                                                      "unreviewed": 1, "duplicates": 1, "unreadable": 0}
    assert prov["layouts"] == ["lgg_kaggle3m", "nnunet"] and prov["models"][0]["name"] == MODEL
    rows = {r["prediction_id"]: r for r in csv.DictReader((out / "manifest.csv").open())}
    ids = served["ids"]
    assert set(rows) == set(ids.values())
    k1 = rows[ids["k1"]]
    assert (k1["patient_id"], k1["case"], k1["decision"], k1["mask_source"]) == (
        "TCGA_XX_0001", "TCGA_XX_0001_20000101", "correct", "corrected")
    assert 0.0 <= float(k1["edit_dice"]) < 1.0 and k1["reviewer"] == "carla" and k1["model"] == MODEL
    assert len(k1["weights_sha256"]) == 64 and len(k1["input_sha256"]) == 64 and k1["reviewed_at"].endswith("+00:00")
    assert rows[ids["a"]]["case"] == case_a and rows[ids["a"]]["decision"] == "accept"
    dcm = rows[ids["dcm"]]
    assert dcm["case"] == f"case-{served['sha']['dcm'][:12]}" and dcm["layout"] == "nnunet"
    assert dcm["decision"] == "correct" and int(dcm["tumor_pixels"]) == 20 * 12 * 2


def test_masks_are_the_models_or_the_reviewers(served: dict[str, Any], exported: tuple[Path, str]) -> None:
    out, case_a = exported
    ds = load_dataset(out)
    assert ds.layout == "lgg_kaggle3m"
    assert ds.patients == sorted(["TCGA_XX_0000", "TCGA_XX_0001", case_a])

    def stack(case: str) -> tuple[np.ndarray, np.ndarray]:
        files = sorted((out / "kaggle_3m" / case).glob("*_mask.tif"), key=lambda p: int(p.stem.split("_")[-2]))
        images = [f.with_name(f.name.replace("_mask", "")) for f in files]
        return (np.stack([read_image(f).array for f in images]), np.stack([read_image(f).array[..., 0] > 0
                                                                            for f in files]))

    for key, folder in (("k0", "TCGA_XX_0000_20000101"), ("k1", "TCGA_XX_0001_20000101")):
        images, masks = stack(folder)
        originals = [read_image(served["kaggle"] / folder / f"{folder}_{k}.tif").array for k in range(1, 4)]
        assert np.array_equal(images, np.stack(originals))  # the pixels as uploaded, lossless
        expected = served["ai"]["k0"] if key == "k0" else served["planted"]
        assert np.array_equal(masks, expected)
    assert np.array_equal(stack(case_a)[1], served["ai"]["a"])
    volumes = load_dataset(out, layout="nnunet")
    assert [s.patient_id for s in volumes.samples] == [f"case-{served['sha']['dcm'][:12]}"]
    label = read_image(volumes.samples[0].masks[0])
    assert np.array_equal(label.array[..., 0] > 0, served["corrected_volume"])
    assert read_image(volumes.samples[0].image).spatial_shape == label.spatial_shape


def test_no_phi_in_the_export(exported: tuple[Path, str]) -> None:
    out, _ = exported
    leaks = []
    for f in out.rglob("*"):
        if f.is_file():
            data = gzip.decompress(f.read_bytes()) if f.name.endswith(".gz") else f.read_bytes()
            leaks += [(f.name, n) for n in NEEDLES if n in data]
    assert not leaks  # header fields, uploaded file names and review comments ("Phisecret") stay out


def test_include_and_refusals(served: dict[str, Any], exported: tuple[Path, str], tmp_path: Path) -> None:
    settings = Settings(data_dir=served["server"].data_dir)
    engine = open_database(settings.db_url)
    prov = export_feedback(engine, settings, tmp_path / "only_accepted", include=("accept",))
    assert prov["counts"]["exported"] == 2 and prov["counts"]["not_included"] == 2
    assert export_feedback(engine, settings, exported[0], model=MODEL)["counts"]["exported"] == 4  # replaces itself
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(TumorscopeError, match="not an earlier feedback export"):
        export_feedback(engine, settings, foreign)
    assert (foreign / "notes.txt").exists()
    with pytest.raises(TumorscopeError, match="nothing to export"):
        export_feedback(engine, settings, tmp_path / "none", model="brain-mri-tumor-type")
    with pytest.raises(TumorscopeError, match="--include"):
        export_feedback(engine, settings, tmp_path / "bad", include=("reject",))


def test_a_case_whose_files_are_gone_is_skipped(served: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(served["server"].data_dir, copy)
    shutil.rmtree(copy / "results" / served["ids"]["k1"])  # removed by hand: the corrected case has no AI mask
    settings = Settings(data_dir=copy)
    prov = export_feedback(open_database(settings.db_url), settings, tmp_path / "out")
    assert (prov["counts"]["exported"], prov["counts"]["unreadable"]) == (3, 1)
    assert not (tmp_path / "out" / "kaggle_3m" / "TCGA_XX_0001_20000101").exists()


def test_inspect_and_finetune_from_an_ensemble_member(exported: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = exported
    assert main(["datasets", "inspect", str(out)]) == 0
    run = tmp_path / "ft"
    assert main(["train", "--task", "segmentation", "--data", str(out), "--init", MODEL, "--init-member", "0",
                 "--model", "unet2d", "--width", "16", "--size", "32", "--epochs", "1", "--val-fraction", "0.34",
                 "--batch-size", "4", "--threads", "1", "--augment", "light", "--out", str(run)]) == 0
    init = json.loads((run / "train_summary.json").read_text())["init"]
    assert init["member"] == 0 and init["loaded"] == init["total"]
    assert json.loads((run / "bundle" / "config.json").read_text())["training"]["init"]["member"] == 0
