"""The 3-D U-Net path: plan, patch sampling, sliding-window inference, and train -> evaluate -> predict
on a tiny synthetic nnU-Net dataset through the CLI."""

import json

import numpy as np
import pytest
import torch

from tests.synthetic import SPACING_XYZ, read_segmentation_metrics, write_nnunet
from tumorscope.bundle import load_bundle
from tumorscope.cli import main
from tumorscope.data.dataset import load_dataset
from tumorscope.data.volumes import load_stacks
from tumorscope.io import read_image
from tumorscope.models import build_model
from tumorscope.predict.volumetric import SlidingWindow, as_volume, plan_patch, predict_volume
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.train.volumetric import PatchSampler

TINY = ["--size", "48", "--width", "4", "--batch-size", "3", "--threads", "1", "--augment", "light"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = write_nnunet(tmp_path_factory.mktemp("nnunet") / "Dataset001_Phantom")
    run = tmp_path_factory.mktemp("runs") / "seg3d"
    code = main(["train", "--task", "segmentation", "--data", str(root), "--model", "unet3d", "--epochs", "2",
                 "--out", str(run), "--val-fraction", "0.34", *TINY])
    assert code == 0
    return root, run


def test_plan_rounds_to_16_keeps_minimum_edges_and_shrinks_the_longest_physical_axis():
    assert plan_patch((12, 16, 16), (2.5, 0.9, 0.9), max_edge=16) == (48, 32, 32)  # the smallest patch
    assert plan_patch((40, 256, 256), (1.0, 1.0, 1.0), max_edge=128) == (48, 64, 64)  # within 64**3 voxels
    assert plan_patch((150, 150, 150), (1.0, 1.0, 1.0), max_edge=128) == (64, 64, 64)
    # fine in-plane spacing: Y and X keep more voxels so the patch covers similar millimetres per axis
    z, y, x = plan_patch((100, 400, 400), (2.0, 0.5, 0.5), max_edge=256, budget=128**3)
    assert z < y == x and z * y * x <= 128**3 and all(v % 16 == 0 for v in (z, y, x))


@pytest.mark.parametrize("shape", [(8, 8, 8), (12, 500, 500)])
def test_bf16_gradients_at_the_planned_bottleneck_match_float32(shape):
    """Guards MIN_EDGE: a U-Net bottleneck 2 voxels deep (Z patch 32) gets garbage (~1e30) conv3d weight
    gradients under CPU bf16 autocast; the planned patch's bottleneck (patch / 16) must not."""
    torch.manual_seed(0)
    bottleneck = [p // 16 for p in plan_patch(shape, (1.0, 1.0, 1.0))]
    conv = torch.nn.Conv3d(64, 64, 3, padding=1)
    x, g = torch.randn(2, 64, *bottleneck), torch.randn(2, 64, *bottleneck)

    def weight_grad(bf16: bool) -> torch.Tensor:
        conv.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = conv(x)
        out.float().backward(g)
        return conv.weight.grad.clone()

    exact, approx = weight_grad(False), weight_grad(True)
    assert (approx - exact).abs().max() <= 0.05 * exact.abs().max()


def test_sampler_pads_small_volumes_and_forces_a_third_of_patches_onto_tumor():
    mask = np.zeros((10, 40, 40), bool)
    mask[4:6, 30:33, 30:33] = True
    image = torch.rand(1, 10, 40, 40)
    sampler = PatchSampler([image], [mask], (16, 16, 16), seed=1)
    batches = sampler.batches(30, 6)
    xs = torch.cat([b[0] for b in batches])
    ys = torch.cat([b[1] for b in batches])
    assert xs.shape == (30, 1, 16, 16, 16) and ys.shape == (30, 1, 16, 16, 16)
    has_tumor = ys.flatten(1).any(1).numpy().reshape(5, 6)
    assert has_tumor[:, 4:].all()  # the last 2 of every 6 are centred on tumor


def test_sliding_window_returns_probabilities_on_the_input_grid():
    torch.manual_seed(0)
    model = build_model("unet3d", 1, 1, width=4)
    vol = np.random.default_rng(0).integers(0, 255, (9, 21, 35, 1)).astype(np.uint8)
    prob = predict_volume(model, Preprocessor(), vol, SlidingWindow((48, 32, 32), overlap=0.5), bf16=False)
    assert prob.shape == (9, 21, 35) and prob.dtype == np.float32
    assert 0.0 <= prob.min() <= prob.max() <= 1.0


def test_nnunet_case_reads_as_one_zyx_volume_with_all_its_channel_files(tmp_path):
    root = write_nnunet(tmp_path / "ds", n_cases=2, n_channels=2)
    stack = as_volume(load_stacks(load_dataset(root).samples)[0])
    assert stack.images.shape == (12, 16, 16, 2) and stack.masks.shape == (12, 16, 16)
    assert stack.masks.any()
    flair = read_image(root / "imagesTr" / "case_000_0000.nii.gz").array[..., 0]
    t1 = read_image(root / "imagesTr" / "case_000_0001.nii.gz").array[..., 0]
    assert np.array_equal(stack.images[..., 0], flair) and np.array_equal(stack.images[..., 1], t1)


def test_train_writes_plan_and_a_3d_bundle(trained):
    _, run = trained
    plan = json.loads((run / "plan.json").read_text())
    assert plan["patch_size"] == [48, 32, 32] and plan["median_shape"] == [12, 16, 16]
    assert plan["median_spacing"] == pytest.approx([2.5, 0.9, 0.9])
    bundle = load_bundle(run)
    assert bundle.config["model"]["name"] == "unet3d"
    assert bundle.config["volumetric"]["patch_size"] == [48, 32, 32]
    assert any(isinstance(m, torch.nn.Conv3d) for m in bundle.model.modules())
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
    ref = bundle.reference  # drift reference: every slice of the validation volumes, run by sliding window
    assert ref["source"].startswith("validation volumes") and ref["features"]["tumor_fraction"]["n"] == 12 * ref["n_inputs"]


def test_evaluate_3d_bundle_writes_the_2d_metric_keys(trained, tmp_path):
    root, run = trained
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(run), "--data", str(root), "--out", str(out), "--boot", "20"]) == 0
    m = read_segmentation_metrics(out)
    assert m["n_patients"] == 6 and m["n_slices"] == 6 * 12
    assert 0.0 <= m["dice_mean"] <= 1.0


def test_predict_nifti_writes_mask_with_the_input_geometry(trained, tmp_path):
    root, run = trained
    src = root / "imagesTr" / "case_000_0000.nii.gz"
    out = tmp_path / "pred"
    assert main(["predict", "--model", str(run), "-i", str(src), "-o", str(out)]) == 0
    mask, image = read_image(out / "mask.nii.gz"), read_image(src)
    assert mask.array.shape == image.array.shape == (12, 16, 16, 1)
    assert mask.spacing == pytest.approx(SPACING_XYZ) and mask.origin == pytest.approx(image.origin)
    assert mask.direction == pytest.approx(image.direction)
    assert set(np.unique(mask.array)) <= {0, 1}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_slices"] == 12 and summary["volume_mm3"] == pytest.approx(
        summary["volume_pixels"] * float(np.prod(SPACING_XYZ)))
