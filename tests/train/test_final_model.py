"""Final models after a CV: --keep last bundles the last epoch, --val-fraction 0 trains on every image and keeps
the last epoch; `ensemble --tta` sets mirror TTA where no validation images can choose it."""

import json

import pytest
import torch

from tests.train.test_classification import TINY, write_classes
from tumorscope.bundle import load_bundle
from tumorscope.cli import main
from tumorscope.errors import TumorscopeError
from tumorscope.options import TrainConfig
from tumorscope.train.data_split import split_for_run


@pytest.fixture(scope="module")
def final_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("final")
    data = write_classes(root / "data")
    runs = [root / f"s{s}" for s in (0, 1)]
    for s, run in enumerate(runs):
        assert main(["train", *TINY, "--epochs", "3", "--patience", "0", "--val-fraction", "0", "--seed", str(s),
                     "--data", str(data), "--out", str(run)]) == 0
    return runs


def test_training_without_validation_keeps_the_last_epoch_of_all_images(final_runs):
    run = final_runs[0]
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["n_val"] == 0 and summary["n_train"] == 30  # every image left after dedup
    assert summary["epochs_run"] == 3 and summary["best_epoch"] == 2 and summary["best_score"] is None
    last = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]
    kept = load_bundle(run / "bundle").model.state_dict()
    assert all(torch.allclose(last[k].float(), kept[k].float()) for k in kept)
    assert not (run / "test_metrics.json").exists()


def test_classification_keeps_the_last_epoch_by_default_and_still_scores_validation(tmp_path):
    from tumorscope.options.describe import describe

    data = write_classes(tmp_path / "data")
    run = tmp_path / "r"
    assert main(["train", *TINY, "--epochs", "3", "--patience", "0", "--data", str(data), "--out", str(run)]) == 0
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["epochs_run"] == 3 and summary["best_epoch"] == 2 and summary["n_val"] > 0
    assert isinstance(summary["best_score"], float)  # the last epoch's validation score, reported
    last = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]
    kept = load_bundle(run / "bundle").model.state_dict()
    assert all(torch.allclose(last[k].float(), kept[k].float()) for k in kept)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["keep"] == "last" and "last epoch kept" in describe({"path": str(run), "config": cfg})[1]


def test_card_commands_name_keep_and_read_a_config_from_before_it_as_best():
    from tumorscope.bundle.publish.commands import command, train_config

    base = {"task": "classification", "model": "resnet18", "epochs": 30}
    assert "--keep best" in command("cv", train_config(base, "DATA"))  # saved before --keep existed: it kept the best epoch
    assert "--keep last" in command("cv", train_config({**base, "keep": "last"}, "DATA"))  # the default, printed all the same
    assert "--keep last" not in command("train", train_config({**base, "keep": "last"}, "DATA"), shown=())
    # a value other than the default is printed even when the card does not ask for it
    assert "--keep best" in command("train", train_config({**base, "keep": "best"}, "DATA"), shown=())


def test_keep_cannot_change_on_resume(tmp_path, capsys):
    data = write_classes(tmp_path / "data")
    run = tmp_path / "r"
    assert main(["train", *TINY, "--epochs", "1", "--data", str(data), "--out", str(run)]) == 0
    assert main(["train", "--resume", "--keep", "best", "--out", str(run)]) != 0
    assert "--keep cannot change when resuming" in capsys.readouterr().err


def test_keep_is_refused_outside_classification(tmp_path, capsys):
    args = ["train", "--task", "segmentation", "--data", str(tmp_path), "--keep", "last", "--out", str(tmp_path / "r")]
    assert main(args) != 0
    assert "--keep and --precise-bn are classification options" in capsys.readouterr().err


def test_ensemble_of_final_runs_takes_tta_from_the_option(final_runs, tmp_path):
    ens = tmp_path / "ens"
    assert main(["ensemble", *map(str, final_runs), "--tta", "on", "--out", str(ens)]) == 0
    assert load_bundle(ens / "bundle").config["inference"] == {"tta": True}
    assert json.loads((ens / "train_summary.json").read_text())["tta_set"] is True


def test_segmentation_refuses_a_missing_validation_part(tmp_path):
    data = write_classes(tmp_path / "data")
    cfg = TrainConfig(task="segmentation", data=str(data), val_fraction=0.0, out=str(tmp_path / "r"))
    with pytest.raises(TumorscopeError, match="classification only"):
        split_for_run(cfg, tmp_path)


def test_publish_final_bundles_the_all_image_model_with_the_recipes_cv_numbers(final_runs, tmp_path):
    from tumorscope.bundle.publish.write import publish

    data = final_runs[0].parent / "data"
    cv = tmp_path / "cv"
    assert main(["cv", *TINY, "--epochs", "1", "--data", str(data), "--folds", "2", "--out", str(cv)]) == 0
    ens = tmp_path / "ens"
    assert main(["ensemble", *map(str, final_runs), "--tta", "on", "--out", str(ens)]) == 0
    bundle = load_bundle(publish("breast-us-lesion", cv, zoo=tmp_path / "zoo", final=ens))
    card = bundle.card
    assert "tumorscope cv " in card and f"--out {cv}" in card  # the recipe's measurement
    member = next(line for line in card.splitlines() if line.endswith(f"--out {final_runs[1]}"))
    assert member.startswith("tumorscope train ") and "--val-fraction 0.0 --seed 1 " in member
    assert f"tumorscope ensemble {final_runs[0]} {final_runs[1]} --tta on --out {ens}" in card
    assert "**not** a CV fold's" in card and "all 30 deduplicated images" in card and "3 epochs, 12 optimiser steps" in card and "has it **on**" in card
    assert "the bundled model on every image" in card and "30 -> 30 images" not in card and "33 -> 30 images" in card
    pooled = json.loads((cv / "cv_summary.json").read_text())["pooled"]
    assert bundle.config["headline_metrics"]["cv_accuracy"] == round(pooled["accuracy"], 3)
    final = load_bundle(ens / "bundle").model.state_dict()
    assert all(torch.equal(v, final[k]) for k, v in bundle.model.state_dict().items())
