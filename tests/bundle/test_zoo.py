"""The bundled lgg-flair-seg model: listed, verified, small, and it finds the tumor on held-out data."""

import json

import pytest

from tumorscope.bundle import load_bundle, zoo_models
from tumorscope.bundle.bundle import ZOO
from tumorscope.cli import main
from tumorscope.data.dataset import load_dataset
from tumorscope.evaluate.classification import evaluate_classification_bundle

NAME = "lgg-flair-seg"


def test_listed_and_resolvable_by_name(capsys):
    assert NAME in {b.name for b in zoo_models()}
    assert main(["models", "list"]) == 0
    assert NAME in capsys.readouterr().out
    assert main(["models", "verify", NAME]) == 0
    assert "checksum ok" in (said := capsys.readouterr().out) and "weights stored as float16" in said
    b = load_bundle(NAME)
    assert b.task == "segmentation" and b.preprocessor.channels == "mri3"
    members = b.config["model"]["options"]["members"]
    assert b.config["model"]["name"] == "ensemble" and len(members) >= 3
    readers = sorted(tuple(m["channels"]) for m in members)  # FLAIR-only members read channel 1 of the three
    assert (0, 1, 2) in readers and (1,) in readers and set(readers) == {(0, 1, 2), (1,)}
    assert "CC BY-NC-SA" in b.card and "tumorscope cv" in b.card and "tumorscope ensemble" in b.card


def test_every_bundle_is_at_most_20_mb():
    for folder in ZOO.iterdir():
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        assert size <= 20_000_000, (folder.name, size)  # 20 MB, decimal


def test_corrupted_weights_are_refused(tmp_path):
    import shutil

    from tumorscope.errors import TumorscopeError

    copy = tmp_path / NAME
    shutil.copytree(ZOO / NAME, copy)
    with open(copy / "weights.safetensors", "r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(TumorscopeError, match="checksum"):
        load_bundle(copy)


def test_demo_on_synthetic_phantom_runs_the_bundled_model(tmp_path):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--synthetic"]) == 0
    summary = json.loads((tmp_path / "demo" / "prediction" / "summary.json").read_text())
    assert summary["model"] == NAME and summary["synthetic_example"] is True


@pytest.mark.shared_data
def test_finds_the_tumor_of_its_held_out_example_patient(lgg_dir, tmp_path):
    example = load_bundle(NAME).config["example_volume"]
    out = tmp_path / "pred"
    assert main(["predict", "-i", str(lgg_dir / "kaggle_3m" / example), "-o", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tumor_found"] is True
    assert summary["dice_vs_ground_truth"] > 0.6


def _report_draws(evaluation, tmp_path) -> str:
    """`tumorscope report` of an evaluation folder: exit 0 and no section that failed to draw."""
    html = tmp_path / "report.html"
    assert main(["report", str(evaluation), "-o", str(html)]) == 0
    text = html.read_text()
    assert "could not be drawn" not in text
    return text


@pytest.mark.shared_data
def test_ensemble_evaluation_of_a_held_out_patient_is_reported(lgg_dir, tmp_path):
    """The shipped four-U-Net ensemble: evaluate on its held-out example patient, then draw the report (its
    embedding and overlay sections once failed on ensembles: a forward hook that never fired)."""
    example = load_bundle(NAME).config["example_volume"]
    data = tmp_path / "lgg" / "kaggle_3m"
    data.mkdir(parents=True)
    (data / example).symlink_to(lgg_dir / "kaggle_3m" / example)
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", NAME, "--data", str(data.parent), "--out", str(out), "--boot", "20"]) == 0
    assert json.loads((out / "metrics.json").read_text())["dice_mean"] > 0.6
    assert "Dice" in _report_draws(out, tmp_path)


CLASSIFIERS = ("brain-mri-tumor-type", "breast-us-lesion", "colon-histo-tumor")


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_bundles_verify_and_carry_their_cv_numbers(name):
    assert main(["models", "verify", name]) == 0
    b = load_bundle(name)
    assert b.task == "classification" and {"cv_accuracy", "cv_auc_macro", "cv_n"} <= set(b.config["headline_metrics"])
    assert "## Cross-validated results" in b.card and "tumorscope cv" in b.card
    assert b.config["training_fingerprints"]["phash"]  # evaluation can leave out what it was trained on


@pytest.mark.shared_data
def test_colon_bundle_on_images_it_never_saw(colon_dir, tmp_path):
    """60 tiles per class; those within phash distance of the bundle's training/validation images are left out
    by `evaluate` itself, so the accuracy is on its held-out fold only."""
    data = tmp_path / "colon"
    for c in ("colon_aca", "colon_n"):
        (data / c).mkdir(parents=True)
        for f in sorted(colon_dir.rglob(f"{c}/*.jpeg"))[:60]:
            (data / c / f.name).symlink_to(f)
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", "colon-histo-tumor", "--data", str(data), "--out", str(out),
                 "--boot", "50"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["excluded_seen_in_training"] >= 60 and m["n"] >= 10
    assert m["accuracy"] >= 0.9
    _report_draws(out, tmp_path)


ALL_IMAGE_BUNDLES = [  # name, dataset fixture, folder scored, images it trained on (None: all), mirror TTA stored
    ("brain-mri-tumor-type", "brain4_dir", "Testing", 290, True),  # a few images dedup dropped are left
    ("breast-us-lesion", "busi_dir", ".", None, False),
]


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "fixture", "folder", "n_seen", "tta"), ALL_IMAGE_BUNDLES)
def test_bundle_trained_on_every_image_is_never_scored_on_them(name, fixture, folder, n_seen, tta, request, tmp_path,
                                                              capsys):
    """These bundles are their recipe retrained on every image of their dataset (the CV numbers are on the card):
    `evaluate` leaves out every image within phash distance of its training images, so nothing it trained on is
    scored as held out. On five training images per class (a smoke check, not a held-out number) it predicts as
    trained, with the TTA setting stored in the bundle."""
    data = request.getfixturevalue(fixture) / folder
    out = tmp_path / "eval"
    code = main(["evaluate", "--model", name, "--data", str(data), "--out", str(out), "--boot", "20"])
    bundle = load_bundle(name)
    if n_seen is None:  # every image was trained on: a clear refusal, no metrics
        assert code != 0 and "nothing held out to evaluate" in capsys.readouterr().err
        assert not (out / "metrics.json").exists()
    else:
        assert code == 0
        m = json.loads((out / "metrics.json").read_text())
        assert m["excluded_seen_in_training"] >= n_seen and m["n"] <= 10  # only images dedup dropped
        assert m["tta"] is tta
        _report_draws(out, tmp_path)
    assert bundle.tta is tta
    by_class: dict[str, list] = {}
    for s in load_dataset(data).samples:
        by_class.setdefault(str(s.label), []).append(s)
    samples = [s for group in by_class.values() for s in sorted(group, key=lambda s: s.image.name)[:5]]
    seen = evaluate_classification_bundle(bundle, samples, n_boot=20, exclude_seen=False)
    assert seen.counts["n"] == len(samples) == 5 * len(bundle.classes) and seen.value("accuracy") >= 0.9
    seen.extra["model"] = name  # the smoke evaluation is drawn too: every bundled model's evaluation reports
    seen.write(tmp_path / "seen" / "metrics.json")
    _report_draws(tmp_path / "seen", tmp_path)


def test_lgg_ships_a_variant_verified_on_all_13_validation_patients_and_predict_uses_it():
    pytest.importorskip("openvino")
    from tumorscope.bundle.variants import read_variants

    bundle = load_bundle("lgg-flair-seg")
    record = read_variants(bundle.path)["openvino-int8w"]
    ver = record["verification"]
    assert record["passed"] and record["weights_sha256"] == bundle.config["weights_sha256"]
    assert ver["data"].startswith("validation 13 patients") and len(ver["per_patient"]) == 13
    assert ver["max_dice_change"] <= 0.005 and ver["mean_dice_change"] <= 0.002
    assert ver["limits"] == {"max_dice_change": 0.005, "mean_dice_change": 0.002}
    assert bundle.runtime_name == "openvino-int8w"
    assert "## Exported runtimes" in bundle.card and "openvino-int8w" in bundle.card
