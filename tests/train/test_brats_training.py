"""BraTS region training on tiny synthetic cases: a seconds-long CV fold through the CLI writes the plan, a
3-output bundle, held-out label maps in BraTS labels on the original grid and their scores."""

import json

import numpy as np
import pytest
import torch

from tests.synthetic import BRATS_SHAPE, brats_labels, write_brats_case
from tumorscope.cli import main
from tumorscope.data.brats_cases import read_labels
from tumorscope.train.brats import region_targets

TINY = ["--width", "4", "--batch-size", "2", "--threads", "1", "--epochs", "2"]


@pytest.fixture(scope="module")
def fold(tmp_path_factory):
    root = tmp_path_factory.mktemp("brats")
    for i in range(6):
        write_brats_case(root, f"Brats18_X_{i:03d}_1", brats_labels(et=i != 5))
    run = tmp_path_factory.mktemp("runs") / "fold0"
    code = main(["train", "--data", str(root), "--model", "unet3d", "--folds", "3", "--fold", "0",
                 "--val-fraction", "0.2", "--out", str(run), *TINY])
    assert code == 0
    return root, run


def test_region_targets_split_the_nested_counts():
    encoded = torch.tensor([0, 1, 2, 3]).view(1, 1, 4)
    assert region_targets(encoded)[0].int().tolist() == [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1]]


def test_fold_writes_plan_bundle_and_brats_label_maps(fold):
    root, run = fold
    plan = json.loads((run / "plan.json").read_text())
    assert plan["spacing"] == [1.0, 1.0, 1.0]  # a tiny field of view fits the budget at the finest spacing
    config = json.loads((run / "bundle" / "config.json").read_text())
    assert config["model"]["out_channels"] == 3 and config["classes"] == ["WT", "TC", "ET"]
    assert config["brats"]["plan"]["patch_size"] == plan["patch_size"]
    test = json.loads((run / "test_metrics.json").read_text())
    assert set(test["regions"]) == {"WT", "TC", "ET"}
    predictions = sorted((run / "predictions").glob("*.nii.gz"))
    assert len(predictions) == len(test["per_case"]) >= 1
    labels, _ = read_labels(predictions[0])
    assert labels.shape == BRATS_SHAPE and set(np.unique(labels)) <= {0, 1, 2, 4}
