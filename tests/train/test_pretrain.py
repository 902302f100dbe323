"""Self-supervised contrastive pretraining: the loss, the views, the run folder, and --init from it."""

import json
import math

import pytest
import torch

from tumorscope.bundle import load_bundle
from tumorscope.bundle.publish.write import publish
from tumorscope.cli import main
from tumorscope.preprocess.augment import augmenter
from tumorscope.train.pretrain import contrastive_view, nt_xent

from .test_classification import TINY, write_classes


def test_nt_xent_rewards_matching_views():
    z = torch.eye(8) * 5  # 8 orthogonal embeddings: partner similarity 1/T = 5, 14 strangers at 0
    assert nt_xent(z, z, 0.2) == pytest.approx(math.log(1 + 14 * math.exp(-5)), abs=1e-5)
    assert nt_xent(z, z.roll(1, 0), 0.2) > 3  # partners swapped for strangers


def test_views_keep_shape_and_differ():
    x = torch.randn(4, 1, 32, 32)
    views = augmenter("contrastive", "default", seed=0)
    a, b = contrastive_view(x, views), contrastive_view(x, views)
    assert a.shape == x.shape and torch.isfinite(a).all()
    assert not torch.allclose(a, b)


def test_pretrain_run_initialises_a_classifier(tmp_path):
    data = write_classes(tmp_path / "unlabelled")
    run = tmp_path / "ssl"
    assert main(["pretrain", "--data", str(data), "--model", "cnn", "--width", "4", "--size", "32", "--epochs", "2",
                 "--batch-size", "8", "--threads", "1", "--out", str(run)]) == 0
    s = json.loads((run / "pretrain_summary.json").read_text())
    assert s["n_images"] == 33 and s["n_train"] + s["n_val"] == 33 and s["epochs_run"] == 2
    assert (run / "metrics.csv").exists() and (run / "encoder.pt").exists()
    out = tmp_path / "fine"
    assert main(["train", *TINY, "--model", "cnn", "--epochs", "1", "--data", str(data), "--init", str(run),
                 "--out", str(out)]) == 0
    init = json.loads((out / "train_summary.json").read_text())["init"]
    assert init["source"].endswith("encoder.pt") and init["loaded"] > 0
    assert init["skipped_shape_mismatch"]  # the 128-feature projection head is replaced by the class head
    cv = tmp_path / "cv"
    assert main(["cv", *TINY, "--model", "cnn", "--epochs", "1", "--folds", "2", "--data", str(data), "--init",
                 str(run), "--out", str(cv)]) == 0
    assert main(["compare", str(cv), "-o", str(tmp_path / "table.md")]) == 0
    assert "| cnn w4 32px | self-supervised init (ssl); 1 epoch, light augmentation, last epoch kept |" in (tmp_path / "table.md").read_text()
    card = load_bundle(publish("brain-mri-tumor-type", cv, zoo=tmp_path / "zoo")).card
    assert f"tumorscope pretrain --data {data} --model cnn --width 4 --size 32" in card  # how the encoder was made
    assert "self-supervised (contrastive, no labels) encoder" in card and "one-off self-supervised pretraining" in card


def test_pretrain_refuses_missing_data_and_tiny_batches(tmp_path, capsys):
    assert main(["pretrain", "--out", str(tmp_path / "r")]) != 0
    assert "--data" in capsys.readouterr().err
    data = write_classes(tmp_path / "d", per_class=1)
    with pytest.raises(SystemExit):
        main(["pretrain", "--data", str(data), "--batch-size", "x", "--out", str(tmp_path / "r")])
