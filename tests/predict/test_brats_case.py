"""``tumorscope predict`` with a BraTS region bundle on a case folder: label map in BraTS labels on the case's
grid, region volumes that match it, one three-colour overlay per slice with tumor; a missing modality is one
line naming what is missing and what is present."""

import json

import numpy as np
import pytest

from tests.synthetic import BRATS_SHAPE, write_brats_case
from tumorscope.bundle import load_bundle, save_bundle
from tumorscope.cli import main
from tumorscope.data.brats_cases import read_labels
from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model
from tumorscope.options import TrainConfig
from tumorscope.predict.brats_case import predict_brats
from tumorscope.predict.brats_plan import make_brats_plan, with_boxes
from tumorscope.predict.brats_regions import RegionPost
from tumorscope.predict.volumetric import SlidingWindow
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.train.brats import brats_bundle_config


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """An untrained 3-output bundle whose last layer is biased so every brain voxel is WT, TC and ET."""
    cfg = TrainConfig(model="unet3d", width=4)
    plan = with_boxes(make_brats_plan([BRATS_SHAPE], [(1.0, 1.0, 1.0)], 2), [BRATS_SHAPE])
    model = build_model("unet3d", 4, 3, width=4)
    last = [m for m in model.modules() if hasattr(m, "bias") and m.bias is not None][-1]
    last.bias.data[:] = 50.0
    config = brats_bundle_config(cfg, "brats-test", plan, SlidingWindow(patch_size=plan.patch_size), RegionPost(),
                                 Preprocessor(channels="all", normalization="zscore"), {})
    folder = tmp_path_factory.mktemp("bundle") / "brats-test"
    save_bundle(folder, model, config)
    return load_bundle(folder)


def test_predict_writes_brats_labels_volumes_and_overlays(bundle, tmp_path):
    case = write_brats_case(tmp_path / "data", "Brats18_T_1").parent
    out = tmp_path / "out"
    summary = predict_brats(bundle, case, out)
    labels, spacing = read_labels(out / "Brats18_T_1.nii.gz")
    assert labels.shape == BRATS_SHAPE and set(np.unique(labels)) <= {0, 1, 2, 4}
    assert summary["regions"]["ET"]["voxels"] == int((labels == 4).sum()) > 0
    assert summary["regions"]["WT"]["volume_ml"] == pytest.approx((labels > 0).sum() * np.prod(spacing) / 1000)
    assert len(list((out / "overlays").glob("*.png"))) == len(summary["slices_with_tumor"]) > 0
    assert json.loads((out / "summary.json").read_text())["case"] == "Brats18_T_1"


def test_missing_modality_is_one_line_naming_missing_and_present(bundle, tmp_path):
    case = write_brats_case(tmp_path, "Brats18_M_1", skip=("t1ce", "t2")).parent
    with pytest.raises(TumorscopeError) as err:
        predict_brats(bundle, case, tmp_path / "out")
    message = str(err.value)
    assert "missing modality t1ce, t2" in message and "present: flair, t1" in message and "\n" not in message
    assert not (tmp_path / "out").exists()


def test_cli_predict_reads_a_case_folder(bundle, tmp_path, capsys):
    case = write_brats_case(tmp_path / "data", "Brats18_C_1", naming="2023").parent
    assert main(["predict", "--model", str(bundle.path), "-i", str(case), "-o", str(tmp_path / "out")]) == 0
    assert "tumor found (WT" in capsys.readouterr().out
    labels, _ = read_labels(tmp_path / "out" / "Brats18_C_1.nii.gz")
    assert set(np.unique(labels)) <= {0, 1, 2, 3}  # the 2023 scheme: ET is 3
