"""``tumorscope predict`` with a classification bundle: any 2-D image kind and size, folders, volumes refused."""

import csv
import json

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from tumorscope.bundle import load_bundle, save_bundle
from tumorscope.cli import main
from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model
from tumorscope.predict.classify import predict_files
from tumorscope.preprocess.pipeline import Preprocessor

CLASSES = ["benign", "malignant", "normal"]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    model = build_model("cnn", 1, 3, width=4)
    pre = Preprocessor(channels="gray", size=(32, 32))
    path = tmp_path_factory.mktemp("bundle") / "tiny-cls"
    save_bundle(path, model, {"task": "classification", "classes": CLASSES, "preprocessing": pre.to_dict(),
                              "model": {"name": "cnn", "in_channels": 1, "out_channels": 3, "options": {"width": 4}}})
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("imgs")
    PILImage.fromarray(rng.integers(0, 255, (30, 50), dtype=np.uint8), "L").save(d / "gray.png")
    PILImage.fromarray(rng.integers(0, 255, (64, 40, 3), dtype=np.uint8), "RGB").save(d / "rgb.jpg")
    PILImage.fromarray(rng.integers(0, 255, (20, 20, 4), dtype=np.uint8), "RGBA").save(d / "rgba.png")
    PILImage.fromarray(rng.integers(0, 255, (33, 17, 2), dtype=np.uint8), "LA").save(d / "gray_alpha.png")
    (d / "sub").mkdir()
    PILImage.fromarray(rng.integers(0, 255, (300, 200), dtype=np.uint8), "L").save(d / "sub" / "big.png")
    return d


def test_every_image_kind_and_size_gets_probabilities(bundle_dir, images, tmp_path):
    out = tmp_path / "pred"
    assert main(["predict", "--model", str(bundle_dir), "-i", str(images), "-o", str(out)]) == 0
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert sorted(r["file"].split("/")[-1] for r in rows) == ["big.png", "gray.png", "gray_alpha.png", "rgb.jpg", "rgba.png"]
    for r in rows:
        probs = [float(r[f"p_{c}"]) for c in CLASSES]
        assert r["predicted"] == CLASSES[int(np.argmax(probs))] and sum(probs) == pytest.approx(1, abs=1e-4)
        assert r["error"] == ""
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_images"] == 5 and sum(summary["counts"].values()) == 5


def test_single_image_summary_has_class_and_probabilities(bundle_dir, images, tmp_path):
    out = tmp_path / "one"
    assert main(["predict", "--model", str(bundle_dir), "-i", str(images / "rgba.png"), "-o", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["predicted"] in CLASSES and set(s["probabilities"]) == set(CLASSES)


def test_volume_is_refused_with_a_clear_message(bundle_dir, tmp_path):
    vol = tmp_path / "volume.tif"
    tifffile.imwrite(vol, np.zeros((5, 16, 16), np.uint8) + np.arange(5, dtype=np.uint8)[:, None, None])
    with pytest.raises(TumorscopeError, match="3-D volume.*2-D images") as err:
        predict_files(load_bundle(bundle_dir), [vol])
    assert "volume.tif" in str(err.value)
    out = tmp_path / "never"
    assert main(["predict", "--model", str(bundle_dir), "-i", str(vol), "-o", str(out)]) == 2
    assert not out.exists()  # nothing half-written


def test_bad_file_in_a_folder_is_listed_not_fatal(bundle_dir, images, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"not a png")
    (folder / "ok.png").write_bytes((images / "gray.png").read_bytes())
    out = tmp_path / "pred_mixed"
    assert main(["predict", "--model", str(bundle_dir), "-i", str(folder), "-o", str(out)]) == 0
    rows = {r["file"].split("/")[-1]: r for r in csv.DictReader((out / "predictions.csv").open())}
    assert rows["ok.png"]["predicted"] in CLASSES and rows["broken.png"]["error"]


def test_mirror_tta_averages_the_image_and_its_mirror(bundle_dir, images, tmp_path):
    """--tta gives the mean of the probabilities of an image and of its left-right mirror; the bundle's own
    ``inference.tta`` is the default, --no-tta overrides it."""
    bundle = load_bundle(bundle_dir)
    gray = images / "gray.png"
    mirror = tmp_path / "mirror.png"
    PILImage.fromarray(np.asarray(PILImage.open(gray))[:, ::-1]).save(mirror)
    plain = predict_files(bundle, [gray, mirror], tta=False).probs
    both = predict_files(bundle, [gray], tta=True).probs[0]
    assert np.allclose(both, plain.mean(0), atol=2e-3)  # bf16 forward passes
    tta_dir = tmp_path / "tta-bundle"
    save_bundle(tta_dir, bundle.model, {**bundle.config, "inference": {"tta": True}})
    out = tmp_path / "pred"
    assert main(["predict", "--model", str(tta_dir), "-i", str(gray), "-o", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["tta"] is True and s["probabilities"]["benign"] == pytest.approx(both[0], abs=1e-5)
    assert main(["predict", "--model", str(tta_dir), "-i", str(gray), "-o", str(out), "--no-tta"]) == 0
    assert json.loads((out / "summary.json").read_text())["tta"] is False
