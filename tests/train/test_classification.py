"""Classification training end to end on a tiny synthetic class-folder dataset: dedup, split, fit, bundle,
held-out test metrics, CV pooling, transfer (--init/--freeze), and the comparison table."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from scipy.ndimage import gaussian_filter

from tumorscope.bundle import load_bundle
from tumorscope.bundle.publish import publish, two_core_minutes
from tumorscope.bundle.weights import read_weights
from tumorscope.cli import main
from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model
from tumorscope.predict.classify import predict_files
from tumorscope.preprocess.augment import augmenter
from tumorscope.train.classification import class_weights, focal_loss, mixup_batch, resolve_sampler
from tumorscope.train.selection import fit_temperature, scaled
from tumorscope.train.transfer import load_init

CLASSES = ("alpha", "beta", "gamma")
TINY = ["--task", "classification", "--model", "cnn", "--size", "32", "--width", "4", "--batch-size", "8",
        "--threads", "1", "--augment", "light", "--channels", "gray", "--epochs", "2"]


def textured(seed: int, label: int, size: int = 40) -> np.ndarray:
    """Smoothed noise (distinct per seed, so no accidental near-duplicates) plus a class-specific bright band."""
    rng = np.random.default_rng(seed)
    a = gaussian_filter(rng.normal(size=(size, size)), 2.0)
    a = (a - a.min()) / (a.max() - a.min()) * 120
    band = slice(label * size // 3, (label + 1) * size // 3)
    a[band, :] += 100
    return a.astype(np.uint8)


def write_classes(root: Path, per_class: int = 10) -> Path:
    """``root/<class>/img_<i>.png``, plus: one exact copy, one flipped copy and one picture under two labels."""
    for k, c in enumerate(CLASSES):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            PILImage.fromarray(textured(100 * k + i, k)).save(root / c / f"img_{i:02d}.png")
    PILImage.fromarray(textured(0, 0)).save(root / "alpha" / "copy_of_00.png")  # exact duplicate
    PILImage.fromarray(textured(1, 0)[:, ::-1]).save(root / "alpha" / "flip_of_01.png")  # near duplicate
    PILImage.fromarray(textured(200, 2)).save(root / "beta" / "mislabelled.png")  # = gamma/img_00
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_classes(tmp_path_factory.mktemp("cls"))


@pytest.fixture(scope="module")
def fold_run(data, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "fold0"
    assert main(["train", *TINY, "--data", str(data), "--folds", "3", "--fold", "0", "--out", str(run)]) == 0
    return run


def test_dedup_drops_copies_and_conflicts_and_keeps_near_copies_together(fold_run):
    d = json.loads((fold_run / "dedup.json").read_text())
    assert d["n_images_before"] == 33 and d["dropped_exact_copies"] == 1 and d["dropped_label_conflicts"] == 2
    assert d["n_images_after"] == 30
    assert len(d["merged_group_files"]) == 1 and {Path(f).name for f in d["merged_group_files"][0]} == {
        "img_01.png", "flip_of_01.png"}
    splits = json.loads((fold_run / "splits.json").read_text())["folds"][0]
    parts = [p for p in ("train", "val", "test") if any("flip_of_01" in i for i in splits[p]["images"])]
    assert parts and all(any(i.endswith("alpha/img_01.png") for i in splits[p]["images"]) for p in parts)
    all_images = [i for p in ("train", "val", "test") for i in splits[p]["images"]]
    assert not any("mislabelled" in i for i in all_images)
    assert sum(i.endswith(("alpha/copy_of_00.png", "alpha/img_00.png")) for i in all_images) == 1


def test_fold_run_writes_bundle_and_held_out_metrics(fold_run):
    for name in ("config.json", "splits.json", "metrics.csv", "training_curves.png", "best.pt", "train_summary.json",
                 "test_metrics.json", "test_eval/roc_curves.png", "test_eval/confusion_matrix.png",
                 "test_eval/calibration.png"):
        assert (fold_run / name).exists(), name
    bundle = load_bundle(fold_run)
    assert bundle.task == "classification" and bundle.classes == list(CLASSES)
    assert bundle.config["model"]["options"] == {"width": 4, "size": 32}
    splits = json.loads((fold_run / "splits.json").read_text())["folds"][0]
    n_seen = len(splits["train"]["images"]) + len(splits["val"]["images"])
    assert len(bundle.config["training_fingerprints"]["phash"]) == n_seen
    m = json.loads((fold_run / "test_metrics.json").read_text())
    assert m["task"] == "classification" and m["n"] == len(splits["test"]["images"])
    assert m["excluded_seen_in_training"] == 0  # dedup keeps every copy of a picture inside one part
    assert len(m["predictions"]) == m["n"] and sum(map(sum, m["confusion_matrix"])) == m["n"]


def test_evaluating_on_training_images_leaves_them_out(fold_run, data, tmp_path):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(fold_run), "--data", str(data), "--out", str(out), "--boot", "50"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    splits = json.loads((fold_run / "splits.json").read_text())["folds"][0]
    # every train/val image and its copies are recognised; what remains is the test part (+ the 2 conflicts)
    assert m["n"] == len(splits["test"]["images"]) + 2
    assert m["excluded_seen_in_training"] == 33 - m["n"]
    for key in ("accuracy", "balanced_accuracy", "auc_macro", "sensitivity_macro", "specificity_macro",
                "precision_macro", "f1_macro"):
        lo, hi = m["ci95"][key]
        assert lo <= hi


def test_cv_pools_folds_and_compare_makes_a_table(data, tmp_path):
    out = tmp_path / "cv"
    assert main(["cv", *TINY, "--epochs", "1", "--data", str(data), "--folds", "2", "--out", str(out)]) == 0
    s = json.loads((out / "cv_summary.json").read_text())
    assert s["task"] == "classification" and s["folds_done"] == 2
    assert s["pooled"]["n"] == s["n_images"] == 30  # every deduplicated image held out exactly once
    assert len(s["across_folds"]["accuracy"]["per_fold"]) == 2
    table = tmp_path / "table.md"
    assert main(["compare", str(out), "-o", str(table)]) == 0
    text = table.read_text()
    assert "| Model | Training | Accuracy | Precision | Recall | F1 | AUC |" in text
    assert "cnn w4 32px | from scratch; 1 epoch, light augmentation" in text and "2-fold CV pooled, n=30" in text
    zoo = publish("breast-us-lesion", out, {"fold 1 again": out / "fold1" / "test_metrics.json"}, zoo=tmp_path / "zoo")
    bundle = load_bundle(zoo)
    assert bundle.name == "breast-us-lesion" and bundle.config["headline_metrics"]["cv_n"] == 30
    assert "fold_1_again_accuracy" in bundle.config["headline_metrics"]
    assert bundle.reference == load_bundle(out / "fold0").reference is not None  # publishing keeps it
    assert "## Cross-validated results (2-fold, deduplicated, n = 30" in bundle.card
    assert "tumorscope cv --task classification" in bundle.card and "0.884" in bundle.card


def test_card_command_names_the_split_file_a_cv_used():
    from tumorscope.bundle.publish.commands import command, train_config

    cfg = {"task": "classification", "model": "cnn", "width": 4, "splits": "runs/brain_splits.json", "threads": 2,
           "keep": "last"}
    assert command("cv", train_config(cfg, "DATA", out="runs/cv"), shown=("keep",)) == (
        "tumorscope cv --task classification --data DATA --model cnn --width 4 --keep last --threads 2 "
        "--splits runs/brain_splits.json --out runs/cv")


def test_card_commands_start_with_the_split_files_own_command(tmp_path):
    from tumorscope.bundle.publish.commands import cv_commands as _commands
    from tumorscope.data.splits import Split, save_splits

    split = Split(groups={p: ("a",) for p in ("train", "val", "test")}, images={p: ("a",) for p in ("train", "val", "test")},
                  seed=0, fold=0)
    recorded, bare = tmp_path / "recorded.json", tmp_path / "bare.json"
    save_splits(recorded, [split], made_by="tumorscope datasets split DATA --folds 1 --val 0.1 --seed 0 --out X")
    save_splits(bare, [split])  # a file from before the command was recorded: the card cannot say how it was made
    cfg = {"task": "classification", "model": "cnn", "splits": str(recorded)}
    lines = _commands(tmp_path / "cv", cfg, cfg, "DATA", None)
    assert lines[0].startswith("tumorscope datasets split DATA") and lines[1].startswith("tumorscope cv ")
    assert len(_commands(tmp_path / "cv", {**cfg, "splits": str(bare)}, {**cfg, "splits": str(bare)}, "DATA", None)) == 1


def test_transfer_init_skips_new_head_and_freezes(fold_run, data, tmp_path):
    run = tmp_path / "ft"
    assert main(["train", *TINY, "--epochs", "1", "--data", str(data), "--init", str(fold_run), "--freeze", "2",
                 "--loss", "focal", "--class-weights", "balanced", "--sampler", "balanced", "--out", str(run)]) == 0
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["init"]["loaded"] == summary["init"]["total"]  # same classes: everything fits
    before = read_weights(fold_run / "bundle" / "weights.safetensors")
    after = read_weights(run / "bundle" / "weights.safetensors")
    assert torch.equal(before["features.0.0.weight"], after["features.0.0.weight"])  # frozen stage untouched
    assert not torch.equal(before["head.3.weight"], after["head.3.weight"])  # head trained


def test_load_init_head_mismatch_and_channel_adaptation(fold_run):
    model = build_model("cnn", 3, 5, width=4)  # RGB input, 5 classes: first conv adapted, head skipped
    report = load_init(model, fold_run / "bundle" / "weights.safetensors")
    assert report["skipped_shape_mismatch"] == ["head.3.weight", "head.3.bias"]
    assert report["adapted_input_channels"] == ["features.0.0.weight"]
    gray = read_weights(fold_run / "bundle" / "weights.safetensors")["features.0.0.weight"]
    assert torch.allclose(model.features[0][0].weight.sum(1, keepdim=True) * 1.0, gray * 1.0, atol=1e-6)
    with pytest.raises(TumorscopeError, match="same architecture"):
        load_init(build_model("resnet18", 1, 3, width=8), fold_run)


def test_losses_and_weights():
    y = torch.tensor([0, 0, 0, 1])
    w = class_weights(y, 2)
    assert torch.allclose(w, torch.tensor([4 / 6, 2.0]))
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 3.0]])
    ce = torch.nn.functional.cross_entropy(logits, y)
    fl = focal_loss(logits, y, None, gamma=0.0)
    assert torch.allclose(fl, ce)  # gamma 0 = cross-entropy
    assert focal_loss(logits, y, None, gamma=2.0) < ce  # confident examples are down-weighted


def test_auto_sampler_balances_only_imbalanced_training_sets():
    assert resolve_sampler("auto", torch.tensor([0, 0, 0, 1, 1, 2, 2]), 3) == "uniform"  # 3:2 is not imbalanced
    assert resolve_sampler("auto", torch.tensor([0, 0, 0, 0, 1, 1, 2]), 3) == "balanced"  # 4:1
    assert resolve_sampler("uniform", torch.tensor([0, 0, 0, 0, 1]), 2) == "uniform"  # an explicit choice stays
    with pytest.raises(TumorscopeError, match="--sampler 'even'"):
        resolve_sampler("even", torch.tensor([0, 1]), 2)


def test_segmentation_loss_name_is_refused(data, tmp_path):
    assert main(["train", *TINY, "--data", str(data), "--loss", "dice", "--out", str(tmp_path / "bad")]) == 2


def batch_augment(x: torch.Tensor, level: str, seed: int = 0) -> torch.Tensor:
    return augmenter("classification", level, seed)(x)[0]


def test_batch_augment_is_seeded_and_keeps_shape_and_range():
    x = torch.rand(8, 3, 24, 24)
    a = batch_augment(x, "heavy", 1)
    b = batch_augment(x, "heavy", 1)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    assert a.min() >= 0 and a.max() <= 1 + 1e-5
    assert batch_augment(x, "none") is x
    flipped = batch_augment(x[:1].expand(64, -1, -1, -1), "light", 0)
    assert any(torch.allclose(f, x[0].flip(-1), atol=1e-5) for f in flipped)  # a pure flip happens
    with pytest.raises(TumorscopeError, match="augment"):
        batch_augment(x, "extreme")


def test_strong_augment_widens_geometry_and_jitters_contrast():
    x = torch.rand(64, 1, 32, 32)
    a = batch_augment(x, "strong", 2)
    b = batch_augment(x, "strong", 2)
    assert a.shape == x.shape and torch.equal(a, b)
    changed = (a - x).abs().amax(dim=(1, 2, 3)) > 1e-4
    assert changed.float().mean() > 0.5  # most images move or change contrast
    # contrast jitter changes the per-image spread beyond what the default level's gamma does
    spread = a.std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3))
    assert float(spread.max() - spread.min()) > 0.2


def test_temperature_scaling_recovers_the_temperature_that_made_probabilities_over_or_under_confident():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 4)) * 2
    y = np.array([rng.choice(4, p=np.exp(z) / np.exp(z).sum()) for z in logits])  # calibrated at T = 1
    for true_t in (0.5, 2.0):
        distorted = torch.softmax(torch.from_numpy(logits / true_t), 1).numpy()  # too sharp / too flat
        t = fit_temperature([distorted], y)
        assert abs(np.log(t) - np.log(1 / true_t)) < 0.15
    same = torch.softmax(torch.from_numpy(logits), 1).numpy()
    assert np.allclose(scaled([same, same], 1.0), same)


def test_mixup_mixes_images_and_keeps_the_weight():
    x = torch.stack([torch.full((1, 4, 4), float(i)) for i in range(6)])
    mixed, perm, lam = mixup_batch(x, 0.4, np.random.default_rng(0))
    assert 0 <= lam <= 1 and sorted(perm.tolist()) == list(range(6))
    assert torch.allclose(mixed[:, 0, 0, 0], lam * torch.arange(6.0) + (1 - lam) * perm.float())


def test_label_smoothing_mixup_and_crop_train_and_are_recorded(data, tmp_path):
    run = tmp_path / "reg"
    assert main(["train", *TINY, "--data", str(data), "--augment", "strong", "--mixup", "0.2",
                 "--label-smoothing", "0.1", "--crop", "foreground", "--out", str(run)]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["mixup"] == 0.2 and cfg["label_smoothing"] == 0.1 and cfg["augment"] == "strong"
    assert load_bundle(run / "bundle").preprocessor.crop == "foreground"  # prediction crops the same way
    assert main(["predict", "--model", str(run / "bundle"), "-i", str(data / "alpha"), "-o", str(tmp_path / "pred")]) == 0
    assert main(["train", *TINY, "--data", str(data), "--loss", "focal", "--label-smoothing", "0.1",
                 "--out", str(tmp_path / "bad")]) == 2
    assert main(["train", "--task", "segmentation", "--data", str(data), "--mixup", "0.2",
                 "--out", str(tmp_path / "bad_seg")]) == 2


def test_ensemble_of_two_seeds_scores_the_same_test_fold(data, fold_run, tmp_path):
    """A second seed trained on fold 0's own splits.json, then `tumorscope ensemble`: the held-out part is
    the same images, and the ensemble's probabilities are the mean of its members'."""
    other = tmp_path / "seed1"
    assert main(["train", *TINY, "--data", str(data), "--splits", str(fold_run / "splits.json"), "--seed", "1",
                 "--out", str(other)]) == 0
    out = tmp_path / "ens"
    assert main(["ensemble", str(fold_run), str(other), "--calibrate", "--out", str(out)]) == 0
    test = json.loads((out / "test_metrics.json").read_text())
    member = json.loads((fold_run / "test_metrics.json").read_text())
    assert sorted(p["path"] for p in test["predictions"]) == sorted(p["path"] for p in member["predictions"])
    ens, a, b = load_bundle(out), load_bundle(fold_run), load_bundle(other)
    x = torch.rand(3, 1, 32, 32)
    mean = (torch.softmax(a.model(x), 1) + torch.softmax(b.model(x), 1)) / 2
    t = ens.config["model"]["options"]["temperature"]  # fitted on the shared validation images
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["calibration"]["temperature"] == t and 0.2 <= t <= 5
    assert summary["calibration"]["validation"]["loss_after"] <= summary["calibration"]["validation"]["loss_before"] + 1e-9
    assert torch.allclose(torch.softmax(ens.model(x), 1), torch.softmax(torch.log(mean) / t, 1), atol=1e-5)
    assert len(ens.config["training_fingerprints"]["phash"]) == len(a.config["training_fingerprints"]["phash"])
    # mirror TTA was chosen on the shared validation images, and the test part was scored with that choice
    search = json.loads((out / "train_summary.json").read_text())["tta_search"]
    assert ens.tta is search["tta"] is test["tta"]
    assert search["tta"] == (search["validation"]["on"]["score"] > search["validation"]["off"]["score"])


def test_ensembled_cv_is_compared_and_published_with_its_commands(data, tmp_path):
    """Two 2-fold CVs (seed 1 on seed 0's splits), `ensemble --cv`, then the comparison row and the zoo card."""
    cv0 = tmp_path / "cv0"
    assert main(["cv", *TINY, "--epochs", "1", "--data", str(data), "--folds", "2", "--out", str(cv0)]) == 0
    cv1 = tmp_path / "cv1"
    for f in (0, 1):
        assert main(["train", *TINY, "--epochs", "1", "--data", str(data), "--seed", "1", "--splits",
                     str(cv0 / f"fold{f}" / "splits.json"), "--out", str(cv1 / f"fold{f}")]) == 0
    ens = tmp_path / "ens"
    assert main(["ensemble", "--cv", str(cv0), str(cv1), "--out", str(ens)]) == 0
    s = json.loads((ens / "cv_summary.json").read_text())
    assert s["folds_done"] == 2 and s["pooled"]["n"] == 30
    table = tmp_path / "table.md"
    assert main(["compare", "--paired", str(cv0), str(cv1), str(ens), "-o", str(table)]) == 0
    text = table.read_text()
    paired = [line.split(" | ") for line in text.splitlines() if line.startswith(f"| {cv1} |") or line.startswith(f"| {ens} |")]
    assert len(paired) == 2 and all(row[1] == "30" for row in paired)  # every held-out image paired with cv0's
    assert all(0 <= float(row[5].rstrip(" |")) <= 1 for row in paired)  # the exact McNemar p-value
    tested = tmp_path / "tests.json"  # the pairwise tests pair the real runs' held-out images as --paired does
    assert main(["compare", "--tests", "--boot", "200", str(cv0), str(ens), "--json", str(tested)]) == 0
    (pair,) = json.loads(tested.read_text())["tests"]["pairs"]
    acc, auc = pair["tests"]
    assert pair["n_items"] == 30 and (acc["metric"], auc["metric"]) == ("accuracy", "auc_macro")
    fixed, broke = (paired[1][3], paired[1][4])  # ens against cv0 in the --paired table
    assert f"({fixed} fixed, {broke} broken)" in acc["test"] and auc["test"].startswith("DeLong")
    n_on = sum(json.loads((ens / f"fold{f}" / "train_summary.json").read_text())["tta_search"]["tta"] for f in (0, 1))
    tta = {0: "", 1: ", mirror TTA in 1 of 2 folds", 2: ", mirror TTA"}[n_on]  # chosen per fold on validation
    assert f"| ensemble of 2 x cnn w4 32px | from scratch; 1 epoch, light augmentation, last epoch kept{tta} |" in text
    # the seed-1 folder has no cv_summary.json: compare pools its folds itself and names the seed
    assert "| cnn w4 32px (seed 1) | from scratch; 1 epoch, light augmentation, last epoch kept |" in text and text.count("2-fold CV pooled, n=30") == 2
    assert "| 2 CV folds pooled, n=30 |" in text  # the fold count of a seed loop is not recorded
    bundle = load_bundle(publish("breast-us-lesion", ens, zoo=tmp_path / "zoo"))
    assert bundle.config["model"]["name"] == "ensemble"
    assert f"tumorscope ensemble --cv {cv0} {cv1} --out {ens}" in bundle.card
    assert "--seed 1 " in bundle.card and f"--splits {cv0}/fold$f/splits.json --out {cv1}/fold$f" in bundle.card
    member_line = next(line for line in bundle.card.splitlines() if f"--out {cv1}/fold$f" in line)
    assert member_line.count("--splits") == 1  # the member's own per-fold split file is not repeated
    assert "CPU with 1 torch thread(s)" in bundle.card  # the bundled fold's setting
    assert "An ensemble of 2 such networks (seeds 0, 1" in bundle.card
    assert "## Inference" in bundle.card and f"on in {n_on} of 2 folds" in bundle.card
    assert "Its 2 networks train independently" in bundle.card and "within 60 minutes on 2 cores" in bundle.card
    assert "every held-out number below was measured with these same stored weights" in bundle.card
    assert bundle.config.get("weights_dtype") is None  # two tiny members fit the 20 MB limit in float32


def test_members_of_different_sizes_ensemble_at_the_largest_size(data, fold_run, tmp_path):
    """A 48-px member beside the 32-px fold run: the ensemble preprocesses at 48 px and the 32-px member resizes
    the batch itself; members that crop differently are refused (their inputs would silently differ)."""
    big = tmp_path / "big"
    assert main(["train", *TINY, "--size", "48", "--data", str(data), "--splits", str(fold_run / "splits.json"),
                 "--seed", "1", "--out", str(big)]) == 0
    out = tmp_path / "ens"
    assert main(["ensemble", str(fold_run), str(big), "--out", str(out)]) == 0
    ens, small, large = load_bundle(out), load_bundle(fold_run), load_bundle(big)
    assert ens.preprocessor.size == (48, 48)
    specs = ens.config["model"]["options"]["members"]
    assert specs[0]["size"] == [32, 32] and "size" not in specs[1]
    x = torch.rand(3, 1, 48, 48)
    small_x = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    mean = (torch.softmax(small.model(small_x), 1) + torch.softmax(large.model(x), 1)) / 2
    assert torch.allclose(torch.softmax(ens.model(x), 1), mean, atol=1e-5)
    assert json.loads((out / "test_metrics.json").read_text())["n"] > 0
    assert main(["predict", "--model", str(out), "-i", str(data / "alpha"), "-o", str(tmp_path / "pred")]) == 0
    cropped = tmp_path / "cropped"
    assert main(["train", *TINY, "--crop", "foreground", "--data", str(data), "--splits", str(fold_run / "splits.json"),
                 "--out", str(cropped)]) == 0
    with pytest.raises(TumorscopeError, match="differs .* in crop"):
        from tumorscope.train.ensemble import ensemble_runs

        ensemble_runs([fold_run, cropped], tmp_path / "bad")


def test_mixed_ensembles_are_described_by_their_members(tmp_path):
    """compare's label and the card's network sentence group an ensemble's members by network and size."""
    from tumorscope.bundle.publish.sections import network_sentence as _network_sentence
    from tumorscope.options.describe import describe

    base = {"model": "resnet18", "width": 32, "channels": "gray", "crop": "foreground", "epochs": 80}
    members = []
    for name, size, seed in (("a", 192, 0), ("b", 128, 0), ("c", 192, 1)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cv_config.json").write_text(json.dumps({**base, "size": size, "seed": seed}))
        members.append(str(tmp_path / name))
    model, training = describe({"path": str(tmp_path / "ens"), "config": {"ensemble_of": members}})
    assert model == "ensemble of 2 x resnet18 w32 192px + 1 x resnet18 w32 128px"
    assert training == "from scratch; foreground crop, 80 epochs"
    nets = [json.loads((Path(m) / "cv_config.json").read_text()) for m in members]
    text = _network_sentence(nets, [0, 0, 1], "trained from scratch")
    assert "2 x `resnet18`" in text and "input 192x192 (seeds 0, 1)" in text and "input 128x128 (seed 0)" in text
    assert "reads each image at 192x192" in text
    one_kind = _network_sentence([nets[0], nets[2]], [0, 1], "trained from scratch")
    assert one_kind.startswith("Network: `resnet18`") and "An ensemble of 2 such networks (seeds 0, 1" in one_kind
    _, clahe = describe({"path": "run", "config": {**base, "enhancement": "clahe"}})
    assert clahe == "from scratch; foreground crop, clahe enhancement, 80 epochs"


def test_two_core_wall_clock_of_one_thread_jobs():
    assert two_core_minutes([600.0] * 3) == 20  # two in parallel, then the third
    assert two_core_minutes([3600.0]) == 60 and two_core_minutes([1800.0, 1200.0, 600.0]) == 30


def test_cv_over_a_dataset_with_its_own_split_folders_scores_each_source(tmp_path):
    """Training/ + Testing/ pooled into one CV: the held-out predictions are also scored per source folder,
    and the zoo card and headline metrics show both."""
    root = tmp_path / "set"
    for s, split in enumerate(("Training", "Testing")):
        for k, c in enumerate(CLASSES):
            (root / split / c).mkdir(parents=True)
            for i in range(8 if split == "Training" else 4):
                PILImage.fromarray(textured(1000 * (s + 1) + 100 * k + i, k)).save(root / split / c / f"i{i}.png")
    out = tmp_path / "cv"
    assert main(["cv", *TINY, "--epochs", "1", "--data", str(root), "--folds", "2", "--out", str(out)]) == 0
    s = json.loads((out / "cv_summary.json").read_text())
    by = s["pooled_by_source"]
    assert set(by) == {"Training", "Testing"} and by["Training"]["n"] == 24 and by["Testing"]["n"] == 12
    assert by["Training"]["n"] + by["Testing"]["n"] == s["pooled"]["n"] == 36
    bundle = load_bundle(publish("breast-us-lesion", out, zoo=tmp_path / "zoo"))
    assert bundle.config["headline_metrics"]["cv_testing_accuracy"] == round(by["Testing"]["accuracy"], 3)
    assert "| `Testing/` | 12 |" in bundle.card
    table = tmp_path / "table.md"
    assert main(["compare", str(out), "-o", str(table)]) == 0
    assert "its `Testing/` images only, n=12" in table.read_text()


def test_datasets_split_dedup_matches_what_classification_training_splits(data, fold_run, tmp_path):
    from tumorscope.data.splits import load_splits

    out = tmp_path / "cv.json"
    assert main(["datasets", "split", str(data), "--folds", "3", "--dedup", "--out", str(out)]) == 0
    assert load_splits(out)[0] == load_splits(fold_run / "splits.json")[0]


def test_int8_ensemble_is_scored_with_the_weights_it_stores(data, fold_run, tmp_path):
    """`tumorscope ensemble --weights int8`: the bundle stores int8 kernels, and its test scores are those of
    the stored (rounded) model, which stays close to the float members' mean."""
    other = tmp_path / "seed2"
    assert main(["train", *TINY, "--data", str(data), "--splits", str(fold_run / "splits.json"), "--seed", "2",
                 "--out", str(other)]) == 0
    out = tmp_path / "ens8"
    assert main(["ensemble", str(fold_run), str(other), "--weights", "int8", "--out", str(out)]) == 0
    ens = load_bundle(out)
    assert ens.config["weights_dtype"] == "int8"
    stored = read_weights(ens.weights_path)
    assert any(v.dtype == torch.int8 for v in stored.values())
    x = torch.rand(3, 1, 32, 32)
    a, b = load_bundle(fold_run), load_bundle(other)
    with torch.no_grad():
        mean = (torch.softmax(a.model(x), 1) + torch.softmax(b.model(x), 1)) / 2
        assert (torch.softmax(ens.model(x), 1) - mean).abs().max() < 0.05
    test = json.loads((out / "test_metrics.json").read_text())
    scored = np.array([list(p["probabilities"].values()) for p in test["predictions"]])
    again = predict_files(load_bundle(out), [Path(p["path"]) for p in test["predictions"]]).probs
    assert np.allclose(scored, again, atol=1e-5)
