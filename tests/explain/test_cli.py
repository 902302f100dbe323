"""``tumorscope explain`` and ``predict --explain`` end to end on tiny bundles and synthetic data."""

import json

import nibabel as nib
import numpy as np
import pytest

from tests.explain.helpers import tiny_classification_bundle, tiny_segmentation_bundle, write_busi
from tests.synthetic import write_kaggle3m
from tumorscope.cli import main
from tumorscope.data.phantom import brain_phantom
from tumorscope.io import Image, write_image


@pytest.fixture(scope="module")
def seg(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    bundle = tiny_segmentation_bundle(root / "seg_bundle")
    data = write_kaggle3m(root / "lgg", n_patients=3, n_slices=4, size=32)
    return bundle, data


def test_explain_patient_folder_writes_overlays_maps_and_summary(seg, tmp_path):
    bundle, data = seg
    patient = sorted((data / "kaggle_3m").iterdir())[0]
    out = tmp_path / "ex"
    assert main(["explain", "--model", str(bundle.path), "-i", str(patient), "-o", str(out), "--method", "gradcam"]) == 0
    summary = json.loads((out / "explain.json").read_text())
    assert summary["method"] == "gradcam" and summary["layer"].endswith("adn.A") and summary["slices"]
    for row in summary["slices"]:
        assert (out / row["heatmap"]).stat().st_size > 0
        raw = np.load(out / row["map"])
        assert raw.shape == (32, 32) and raw.dtype == np.float32  # the input's grid, not the network's


def test_explain_volume_writes_a_nifti_with_the_inputs_geometry(seg, tmp_path):
    bundle, _ = seg
    vol, _ = brain_phantom(4, size=32)
    src = tmp_path / "vol.nii.gz"
    write_image(Image.from_array(vol[..., 1:2], spacing=(0.5, 0.6, 3.0)), src)
    out = tmp_path / "ex"
    assert main(["explain", "--model", str(bundle.path), "-i", str(src), "-o", str(out), "--method", "saliency"]) == 0
    got, ref = nib.load(out / "saliency.nii.gz"), nib.load(src)
    assert got.shape == ref.shape and np.allclose(got.affine, ref.affine)
    assert np.asarray(got.dataobj).any()


def test_predict_explain_adds_heatmaps(seg, tmp_path):
    bundle, data = seg
    patient = sorted((data / "kaggle_3m").iterdir())[0]
    out = tmp_path / "pred"
    assert main(["predict", "--model", str(bundle.path), "-i", str(patient), "-o", str(out), "--explain", "ig"]) == 0
    assert (out / "summary.json").exists() and list((out / "explain" / "heatmaps").glob("*_ig.png"))


def test_explain_evaluate_writes_metrics_for_each_method(seg, tmp_path):
    bundle, data = seg
    out = tmp_path / "ev"
    assert main(["explain", "--evaluate", "--model", str(bundle.path), "--data", str(data), "-o", str(out),
                 "--methods", "gradcam", "occlusion", "--max-slices", "3", "--boot", "50"]) == 0
    m = json.loads((out / "explain_metrics.json").read_text())
    assert set(m["methods"]) == {"gradcam", "occlusion"} and m["n_slices"] == 3 and m["tolerance_px"] == 5
    for e in m["methods"].values():
        for key in ("pointing_game", "energy_in_mask", "deletion_auc", "insertion_auc", "deletion_auc_random"):
            s = e[key]
            assert 0.0 <= s["mean"] <= 1.0 and s["n"] == 3 and s["ci95"][0] <= s["ci95"][1], key
    assert len(m["per_slice"]) == 3 and "random" in m["per_slice"][0]


def test_classification_explain_and_evaluate_on_busi_like_data(tmp_path):
    bundle = tiny_classification_bundle(tmp_path / "cls", ["benign", "malignant", "normal"], steps=5)
    data = write_busi(tmp_path / "busi", n_per_class=2)
    out = tmp_path / "ex"
    folder = data / "Dataset_BUSI_with_GT" / "benign"  # images of different sizes
    assert main(["explain", "--model", str(bundle.path), "-i", str(folder), "-o", str(out), "--method", "gradcampp"]) == 0
    rows = json.loads((out / "explain.json").read_text())["slices"]
    assert len(rows) == 2 and all(r["target"].startswith("class ") for r in rows)
    assert np.load(out / rows[0]["map"]).shape[:2] != (32, 32)  # back on the image's own grid
    ev = tmp_path / "ev"
    assert main(["explain", "--evaluate", "--model", str(bundle.path), "--data", str(data), "-o", str(ev),
                 "--methods", "gradcam", "saliency", "--boot", "20"]) == 0
    m = json.loads((ev / "explain_metrics.json").read_text())
    assert m["n_slices"] == 4 and m["task"] == "classification"  # benign + malignant; normal has no lesion
    assert {r["label"] for r in m["per_slice"]} == {"benign", "malignant"}


def test_explain_without_input_is_a_one_line_error(seg, tmp_path, capsys):
    bundle, _ = seg
    assert main(["explain", "--model", str(bundle.path), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "-i INPUT" in err[0]
    assert not (tmp_path / "x").exists()
