"""Precise BatchNorm: statistics recomputed over clean training images, at the end of training or by resuming a
finished run with --precise-bn."""

import json
import shutil

import torch

from tests.train.test_classification import TINY, write_classes
from tumorscope.bundle import load_bundle
from tumorscope.bundle.publish.commands import command, train_config
from tumorscope.cli import main
from tumorscope.train.batchnorm import recompute_batchnorm


def test_statistics_become_the_average_over_the_images_and_momentum_is_kept():
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(3, momentum=0.3)
    model = torch.nn.Sequential(bn)
    x = torch.randn(12, 3, 5, 5) * torch.tensor([1.0, 2.0, 3.0])[:, None, None] + torch.tensor([0.0, 5.0, -2.0])[:, None, None]
    assert recompute_batchnorm(model, x, batch_size=4, bf16=False) == 1
    assert torch.allclose(bn.running_mean, x.mean(dim=(0, 2, 3)), atol=1e-5)
    per_batch_var = torch.stack([b.var(dim=(0, 2, 3), unbiased=True) for b in x.split(4)]).mean(0)
    assert torch.allclose(bn.running_var, per_batch_var, atol=1e-4)
    assert bn.momentum == 0.3 and not model.training


def test_a_single_image_tail_batch_is_skipped():
    bn = torch.nn.BatchNorm2d(1)
    x = torch.cat([torch.zeros(4, 1, 2, 2), torch.full((1, 1, 2, 2), 100.0)])
    recompute_batchnorm(torch.nn.Sequential(bn), x, batch_size=4, bf16=False)
    assert float(bn.running_mean) == 0.0  # the fifth image alone is no batch BatchNorm could have trained on


def test_resuming_a_finished_run_with_precise_bn_only_recomputes_the_statistics(tmp_path):
    data = write_classes(tmp_path / "data")
    run = tmp_path / "fold0"
    assert main(["train", *TINY, "--data", str(data), "--folds", "3", "--fold", "0", "--out", str(run)]) == 0
    copy = tmp_path / "fold0_pbn"
    shutil.copytree(run, copy)
    shutil.rmtree(copy / "bundle")
    assert main(["train", "--resume", "--precise-bn", "--out", str(copy)]) == 0
    summary = json.loads((copy / "train_summary.json").read_text())
    pbn = summary["precise_bn"]
    assert pbn["layers"] == 8 and pbn["images"] == summary["n_train"]
    assert summary["epochs_run"] == 2 and summary["best_epoch"] == json.loads((run / "train_summary.json").read_text())["best_epoch"]
    cfg = json.loads((copy / "config.json").read_text())
    assert cfg["precise_bn"] is True and "--precise-bn" in command("train", train_config(cfg, "DATA"))
    before, after = load_bundle(run / "bundle").model.state_dict(), load_bundle(copy / "bundle").model.state_dict()
    stats = [k for k in before if k.endswith(("running_mean", "running_var"))]
    weights = [k for k in before if k not in stats and not k.endswith("num_batches_tracked")]
    assert all(torch.equal(before[k], after[k]) for k in weights)  # the kept weights, untouched
    assert any(not torch.allclose(before[k], after[k]) for k in stats)
    assert (copy / "test_metrics.json").exists()
