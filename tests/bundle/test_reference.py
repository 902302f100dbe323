"""Drift references: per-slice features, reference.json (round trip, damaged files, bundles that keep it),
PSI / KS on synthetic samples, and the references shipped with the zoo models."""

import json

import numpy as np
import pytest
import torch

from tumorscope.bundle import load_bundle, save_bundle
from tumorscope.bundle.bundle import ZOO
from tumorscope.bundle.package import package
from tumorscope.bundle.reference import (
    INPUT_FEATURES,
    MAX_VALUES,
    REFERENCE_FILE,
    build_reference,
    classification_features,
    input_features,
    ks,
    psi,
    read_reference,
    reference_values,
    segmentation_features,
    write_reference,
)
from tumorscope.cli import main
from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model

CONFIG = {"task": "classification", "classes": ["a", "b"],
          "model": {"name": "cnn", "in_channels": 1, "out_channels": 2, "options": {"width": 4}},
          "preprocessing": {"channels": "gray", "size": [16, 16]}}


def test_input_features_are_raw_intensity_statistics_per_slice():
    rng = np.random.default_rng(0)
    slices = rng.integers(0, 256, size=(3, 20, 30, 3)).astype(np.uint8)
    f = input_features(slices)
    assert set(f) == set(INPUT_FEATURES) and all(len(v) == 3 for v in f.values())
    flat = slices.reshape(3, -1).astype(np.float64)
    assert np.allclose(f["intensity_mean"], flat.mean(1)) and np.allclose(f["intensity_std"], flat.std(1))
    assert np.allclose(f["intensity_p99"], np.percentile(flat, 99, axis=1))
    # images of different sizes (classification inputs) as a sequence
    mixed = input_features([np.full((8, 8, 1), 10.0), np.full((5, 7, 3), 200.0)])
    assert mixed["intensity_mean"].tolist() == [10.0, 200.0] and mixed["intensity_std"].tolist() == [0.0, 0.0]


def test_output_features():
    prob = np.zeros((2, 4, 4), np.float32)
    prob[0, :2] = 0.9
    mask = prob > 0.5
    f = segmentation_features(prob, mask)
    assert f["tumor_fraction"].tolist() == [0.5, 0.0] and np.allclose(f["max_probability"], [0.9, 0.0])
    with pytest.raises(ValueError, match="one shape"):
        segmentation_features(prob, mask[:1])
    c = classification_features(np.array([[0.2, 0.8], [0.6, 0.4]]), ["benign", "malignant"])
    assert set(c) == {"max_probability", "p_benign", "p_malignant"}
    assert c["max_probability"].tolist() == [0.8, 0.6] and c["p_benign"].tolist() == [0.2, 0.6]


def test_build_reference_caps_sorts_rounds_and_counts():
    values = np.random.default_rng(1).normal(size=5000)
    ref = build_reference({"x": values, "y": [3.0, float("nan"), 1.23456789, 2.0]}, "synthetic", n_inputs=7)
    assert ref["source"] == "synthetic" and ref["n_inputs"] == 7 and ref["format_version"] == 1
    x = ref["features"]["x"]
    assert x["n"] == 5000 and len(x["values"]) == MAX_VALUES and x["values"] == sorted(x["values"])
    assert abs(np.median(x["values"]) - np.median(values)) < 0.01  # the quantiles stand for the sample
    assert ref["features"]["y"] == {"n": 3, "values": [1.2346, 2.0, 3.0]}  # NaN left out, 5 significant digits
    with pytest.raises(ValueError, match="no finite value"):
        build_reference({"z": [float("inf")]}, "synthetic")


def test_round_trip_and_bundles_that_keep_it(tmp_path):
    torch.manual_seed(0)
    ref = build_reference({"intensity_mean": [1.0, 2.0, 3.0]}, "three images", n_inputs=3)
    bundle = save_bundle(tmp_path / "run" / "bundle", build_model("cnn", 1, 2, width=4), CONFIG, reference=ref)
    assert (bundle.path / REFERENCE_FILE).exists()
    assert "intensity_mean" not in (bundle.path / "config.json").read_text()  # beside config.json, not in it
    assert read_reference(bundle.path) == ref == load_bundle(bundle.path).reference
    packaged = package(tmp_path / "run", "named", tmp_path / "named", "# card", {"accuracy": 1.0})
    assert load_bundle(packaged).reference == ref  # repackaging keeps it
    plain = save_bundle(tmp_path / "plain", build_model("cnn", 1, 2, width=4), CONFIG)
    assert plain.reference is None and load_bundle(plain.path).reference is None
    write_reference(plain.path, ref)  # added afterwards: the weights checksum is unaffected
    assert load_bundle(plain.path, verify=True).reference == ref


@pytest.mark.parametrize(("text", "problem"), [
    ("{not json", "not valid JSON"),
    ('{"format_version": 1, "source": "s"}', "no 'features'"),
    ('{"format_version": 1, "source": "s", "features": {"x": {"n": 2, "values": []}}}', "non-empty 'values'"),
    ('{"format_version": 1, "source": "s", "features": {"x": {"n": 2, "values": [1, NaN]}}}', "not a finite"),
    ('{"format_version": 1, "source": "s", "features": {"x": {"n": 2, "values": [1, "2"]}}}', "not a finite"),
    ('{"format_version": 99, "source": "s", "features": {}}', "newer than this tumorscope"),
    ('[1, 2]', "no 'features'"),
])
def test_damaged_reference_is_a_clear_error(tmp_path, text, problem):
    (tmp_path / REFERENCE_FILE).write_text(text)
    with pytest.raises(TumorscopeError, match=problem) as err:
        read_reference(tmp_path)
    assert REFERENCE_FILE in str(err.value)
    with pytest.raises(TumorscopeError):  # and never written in the first place
        write_reference(tmp_path / "other", {"format_version": 1, "source": "s", "features": {"x": {"n": 1}}})


def test_psi_and_ks_same_distribution_versus_shifted():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=1000)
    same, shifted = rng.normal(size=500), rng.normal(1.0, size=500)
    assert psi(ref, same) < 0.1 and ks(ref, same)[1] > 0.01
    assert psi(ref, shifted) > 0.25 and ks(ref, shifted)[1] < 1e-6
    assert psi(ref, ref) == pytest.approx(0.0, abs=1e-12) and ks(ref, ref) == (0.0, 1.0)
    with pytest.raises(ValueError, match="non-empty"):
        psi(ref, [])


def test_psi_gives_a_point_mass_its_own_bin():
    """A saturated 99th percentile (all 255), or 'no tumor' (fraction 0): values next to the point mass are
    not counted with it, and live values equal to it after rounding are."""
    assert psi(np.full(200, 255.0), np.full(200, 200.0)) > 5
    assert psi(np.full(200, 255.0), np.full(200, 255.0000001)) == pytest.approx(0.0)
    rng = np.random.default_rng(3)
    ref = np.where(rng.random(1000) < 0.3, 0.0, rng.uniform(0, 0.2, 1000))
    more_zeros = np.where(rng.random(500) < 0.8, 0.0, rng.uniform(0, 0.2, 500))
    assert psi(ref, more_zeros) > 0.25
    assert psi(ref, np.where(rng.random(500) < 0.3, 0.0, rng.uniform(0, 0.2, 500))) < 0.1


ZOO_FEATURES = {
    "lgg-flair-seg": {"tumor_fraction", "max_probability"},
    "brain-mri-tumor-type": {"max_probability", "p_glioma", "p_meningioma", "p_notumor", "p_pituitary"},
    "breast-us-lesion": {"max_probability", "p_benign", "p_malignant", "p_normal"},
    "colon-histo-tumor": {"max_probability", "p_colon_aca", "p_colon_n"},
}


@pytest.mark.parametrize("name", sorted(ZOO_FEATURES))
def test_zoo_bundles_ship_a_reference_from_their_training_data(name):
    bundle = load_bundle(name)
    ref = bundle.reference
    assert ref is not None and (ZOO / name / REFERENCE_FILE).stat().st_size < 100 * 1024
    assert set(ref["features"]) == set(INPUT_FEATURES) | ZOO_FEATURES[name]
    assert ref["source"].startswith(("validation", "training")) and "checked against the bundle" in ref["source"]
    n = {f["n"] for f in ref["features"].values()}
    assert len(n) == 1 and 100 <= n.pop() <= 500 and ref["n_inputs"] >= 13
    if bundle.task == "classification":
        p = np.stack([reference_values(ref, f"p_{c}") for c in bundle.classes])
        assert np.all((p >= 0) & (p <= 1))


def test_models_verify_reads_the_reference(capsys):
    assert main(["models", "verify", "colon-histo-tumor"]) == 0
    assert "drift reference: 6 features, validation images" in capsys.readouterr().out


def test_models_verify_fails_on_a_damaged_reference(tmp_path, capsys):
    import shutil

    copy = tmp_path / "colon"
    shutil.copytree(ZOO / "colon-histo-tumor", copy)
    (copy / REFERENCE_FILE).write_text(json.dumps({"features": {}}))
    assert main(["models", "verify", str(copy)]) != 0
    assert "damaged drift reference" in capsys.readouterr().err


@pytest.mark.shared_data
def test_zoo_reference_script_reproduces_the_shipped_colon_reference(colon_dir):
    """scripts/zoo_reference.py rebuilds the colon bundle's fold-0 split, finds it matches the bundle's record
    (sizes, training fingerprints), and makes exactly the committed reference from its validation images."""
    from tests.scripts import load_script

    script = load_script("zoo_reference")
    ref = script.make_reference("colon-histo-tumor", colon_dir.parent, 500)
    assert ref == load_bundle("colon-histo-tumor").reference
