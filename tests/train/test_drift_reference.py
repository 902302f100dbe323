"""Training writes each bundle's drift reference (reference.json) from its validation part, or from its training
part when it has none; never from a CV fold's test part."""

import json

import pytest

from tests.train.test_classification import TINY, write_classes
from tumorscope.bundle import load_bundle
from tumorscope.bundle.reference import INPUT_FEATURES
from tumorscope.cli import main


def test_segmentation_run_references_its_validation_volumes(tiny_seg_run):
    _, run = tiny_seg_run
    ref = load_bundle(run).reference
    val = json.loads((run / "splits.json").read_text())["folds"][0]["val"]
    assert ref is not None and ref["source"].startswith("validation volumes of ")
    assert ref["n_inputs"] == len(val["groups"])
    assert set(ref["features"]) == set(INPUT_FEATURES) | {"tumor_fraction", "max_probability"}
    assert {f["n"] for f in ref["features"].values()} == {len(val["images"])}  # every validation slice


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_classes(tmp_path_factory.mktemp("cls"))


@pytest.mark.parametrize(("options", "part"), [(["--folds", "3", "--fold", "0"], "val"),
                                               (["--val-fraction", "0"], "train")])
def test_classification_run_references_validation_else_training_images(data, tmp_path, options, part):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--data", str(data), *options, "--out", str(run)]) == 0
    bundle = load_bundle(run)
    ref = bundle.reference
    assert ref is not None and ref["n_inputs"] == bundle.config["training"][f"n_{part}"] > 0
    assert ref["source"].startswith("validation images" if part == "val" else "training (no validation part)")
    assert set(ref["features"]) == set(INPUT_FEATURES) | {"max_probability"} | {f"p_{c}" for c in bundle.classes}
