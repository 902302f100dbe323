"""Real inputs of every kind through the real service: a zipped kaggle_3m patient folder, a NIfTI volume, a
zipped DICOM series, and a classification of a real MRI that must agree with ``tumorscope predict``.
Skipped with the reason when the shared datasets are absent.

Reading inputs does not depend on the database, so this module runs on SQLite only (on PostgreSQL as well
its time doubled, with the same results); test_api and test_models_admin cover both."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.serve.server import Server, wait_done
from tests.serve.test_api import submit
from tumorscope.data.locate import shared_dataset

PATIENT = "TCGA_CS_4942_19970222"


@pytest.fixture(scope="module")
def backend() -> None:
    """SQLite in the service's data dir (overrides the SQLite + PostgreSQL parametrisation)."""
    return None


def shared(name: str) -> Path:
    root = shared_dataset(name)
    if root is None:
        pytest.skip(f"real dataset {name!r} not found: needs ../shared/data/{name}")
    return root


def zip_folder(folder: Path) -> bytes:
    """``folder`` zipped as itself (its name the zip's only top-level entry), as a file manager does."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, str(f.relative_to(folder.parent)))
    return buf.getvalue()


def predict(client: httpx.Client, data: bytes, name: str, **fields: str) -> dict[str, Any]:
    r = submit(client, data, name, **fields)
    assert r.status_code == 202, r.text
    body = wait_done(client, r.json()["id"], timeout=300)
    assert body["status"] == "done", body
    return body


def nifti_from_gz(data: bytes) -> Any:
    import gzip

    import nibabel as nib

    return nib.Nifti1Image.from_bytes(gzip.decompress(data))


def no_server_path(service: Server, *texts: str) -> None:
    for text in texts:
        assert str(service.data_dir) not in text and "/uploads/" not in text, text


def test_zipped_kaggle_3m_patient(service: Server, tokens: dict[str, str]) -> None:
    folder = shared("lgg_mri_segmentation") / "kaggle_3m" / PATIENT
    images = [p for p in folder.glob("*.tif") if not p.stem.endswith("_mask")]
    with service.client(tokens["clinician"]) as c:
        body = predict(c, zip_folder(folder), "patient.zip")
    result = body["result"]
    assert result["n_slices"] == len(images) and 0.0 <= result["dice_vs_ground_truth"] <= 1.0
    masks = [f for f in body["files"] if f.startswith("masks/")]
    assert len(masks) == len(images) and sorted(masks) == sorted(result["mask_files"])
    assert all(f"masks/{p.stem}_mask.png" in masks for p in images)
    assert result["tumor_found"] and result["dice_vs_ground_truth"] > 0.5  # this patient has a visible tumor
    no_server_path(service, json.dumps(result))


def test_nifti_volume(service: Server, tokens: dict[str, str], tmp_path: Path) -> None:
    """A small NIfTI built from four real FLAIR slices (kaggle_3m channel 1), 2 mm apart."""
    import nibabel as nib
    from PIL import Image

    folder = shared("lgg_mri_segmentation") / "kaggle_3m" / PATIENT
    slices = [np.asarray(Image.open(folder / f"{PATIENT}_{i}.tif"))[..., 1] for i in (10, 11, 12, 13)]
    volume = np.stack(slices, axis=-1)[::2, ::2]  # (128, 128, 4): half resolution keeps it fast
    nib.save(nib.Nifti1Image(volume.astype(np.int16), np.diag([2.0, 2.0, 2.0, 1.0])), tmp_path / "flair.nii.gz")
    with service.client(tokens["clinician"]) as c:
        body = predict(c, (tmp_path / "flair.nii.gz").read_bytes(), "scan.bin")
        assert body["result"]["mask_files"] == ["mask.nii.gz"] and "mask.nii.gz" in body["files"]
        got = c.get(f"/v1/predictions/{body['id']}/files/mask.nii.gz")
    assert got.status_code == 200
    mask = nifti_from_gz(got.content)
    assert mask.shape == volume.shape and set(np.unique(np.asarray(mask.dataobj)).tolist()) <= {0, 1}
    np.testing.assert_allclose(mask.affine, np.diag([2.0, 2.0, 2.0, 1.0]), atol=1e-5)
    assert body["result"]["volume_mm3"] == pytest.approx(8.0 * body["result"]["volume_pixels"])


def test_zipped_dicom_series(service: Server, tokens: dict[str, str]) -> None:
    """The shared series (30 slices of a Lung-PET-CT-Dx chest CT, 512x512) zipped as its folder is *done*:
    it reads as one volume and lgg-flair-seg runs on it. The model was trained on MR, so instead of a
    refusal the result carries the modality warning (naming the series as the client zipped it, no
    server path); the mask comes back as NIfTI in the series' geometry."""
    series = next(p.parent for p in sorted(shared("dicom_series_sample").rglob("*.dcm")))
    n = len(list(series.glob("*.dcm")))
    with service.client(tokens["clinician"]) as c:
        body = predict(c, zip_folder(series), "series.zip")
        mask_bytes = c.get(f"/v1/predictions/{body['id']}/files/mask.nii.gz").content
    result = body["result"]
    assert result["n_slices"] == n and result["mask_files"] == ["mask.nii.gz"]
    assert any("Modality is CT" in w and series.name in w for w in result["warnings"]), result["warnings"]
    no_server_path(service, json.dumps(result))
    mask = nifti_from_gz(mask_bytes)
    assert mask.shape == (512, 512, n)
    np.testing.assert_allclose(mask.header.get_zooms(), (0.6464844, 0.6464844, 8.0), rtol=1e-5)  # the series' spacing


def test_classification_matches_the_cli(service: Server, tokens: dict[str, str], tmp_path: Path) -> None:
    from tumorscope.cli import main

    image = sorted((shared("brain_tumor_mri_4class") / "Testing" / "glioma").glob("*.jpg"))[0]
    with service.client(tokens["clinician"]) as c:
        body = predict(c, image.read_bytes(), image.name, model="brain-mri-tumor-type")
        served_csv = c.get(f"/v1/predictions/{body['id']}/files/predictions.csv").text
        classes = next(m for m in c.get("/v1/models").json() if m["name"] == "brain-mri-tumor-type")["classes"]
    result = body["result"]
    assert result["predicted"] in classes and body["model"] == "brain-mri-tumor-type"
    rows = list(csv.DictReader(io.StringIO(served_csv)))
    assert len(rows) == 1 and rows[0]["predicted"] == result["predicted"]
    assert "/" not in rows[0]["file"] and "/" not in result["input"]
    no_server_path(service, served_csv, json.dumps(result))

    assert main(["predict", "--model", "brain-mri-tumor-type", "-i", str(image), "-o", str(tmp_path / "cli")]) == 0
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert cli["predicted"] == result["predicted"]
    for name in classes:
        assert result["probabilities"][name] == pytest.approx(cli["probabilities"][name], abs=1e-5)
