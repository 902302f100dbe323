"""``tumorscope explain`` on 3-D multi-channel, multi-output bundles: per region and modality maps, the
modality importance table, faithfulness scores and figures."""

import json

import numpy as np
import pytest
import torch

from tumorscope.cli import main
from tumorscope.explain.faithfulness import perturbation_curves, pointing_hit
from tumorscope.explain.volume_methods import patch_box, region_select
from tumorscope.io import read_image


@pytest.fixture(scope="module")
def explained(tiny_brats_bundles, tmp_path_factory):
    root, _, three = tiny_brats_bundles
    case = sorted(p for p in root.iterdir())[1]
    out = tmp_path_factory.mktemp("explain") / "out"
    assert main(["explain", "--model", str(three), "-i", str(case), "-o", str(out), "--threads", "1",
                 "--method", "occlusion", "--steps", "5"]) == 0
    return case, out, json.loads((out / "explain.json").read_text())


def test_every_region_gets_modality_importance_faithfulness_and_files(explained):
    case, out, summary = explained
    assert summary["modalities"] == ["flair", "t1", "t1ce", "t2"] and list(summary["regions"]) == ["WT", "TC", "ET"]
    for region, row in summary["regions"].items():
        assert set(row["importance"]) == set(summary["modalities"])
        assert abs(sum(v["occlusion_share"] for v in row["importance"].values()) - 1) < 1e-6
        f = row["faithfulness"]["occlusion"]
        assert 0 <= f["energy_in_mask"] <= 1 and 0 <= f["deletion_auc"] <= 1 and len(f["deletion_curve"]) == 6
        assert row["truth_voxels"] > 0 and isinstance(f["pointing_game"], bool)
        assert (out / row["figures"]["occlusion"]).stat().st_size > 0
        heat = read_image(out / row["maps"]["occlusion"])
        assert heat.array.shape[:3] == read_image(next(case.glob("*_flair.nii.gz"))).array.shape[:3]
        maps = np.load(out / "maps" / f"{region}.npz")
        assert maps["occlusion"].shape[0] == 4 and list(maps["channels"]) == summary["modalities"]


def test_the_modality_that_shows_the_tumor_drives_the_whole_tumor_output(explained):
    """Only FLAIR (whole tumor) and T1ce (enhancing) carry the synthetic tumor; T1 and T2 are noise."""
    wt = explained[2]["regions"]["WT"]["importance"]
    assert wt["flair"]["ablation_drop"] > max(wt["t1"]["ablation_drop"], wt["t2"]["ablation_drop"]) + 0.05
    assert wt["flair"]["occlusion_share"] > max(wt["t1"]["occlusion_share"], wt["t2"]["occlusion_share"])


def test_gradient_methods_run_on_the_one_output_bundle_and_2d_methods_are_refused(tiny_brats_bundles, tmp_path,
                                                                                  capsys):
    root, one, _ = tiny_brats_bundles
    case = sorted(p for p in root.iterdir())[0]
    assert main(["explain", "--model", str(one), "-i", str(case), "-o", str(tmp_path / "s"), "--method", "ig",
                 "--threads", "1", "--steps", "3"]) == 0
    summary = json.loads((tmp_path / "s" / "explain.json").read_text())
    assert list(summary["regions"]) == ["tumor"]
    assert summary["regions"]["tumor"]["truth_voxels"] > 0  # scored against the whole tumor
    assert main(["explain", "--model", str(one), "-i", str(case), "-o", str(tmp_path / "g"), "--method",
                 "gradcam"]) != 0
    assert "3-D models are explained by saliency, ig, occlusion" in capsys.readouterr().err


def test_patch_box_centres_on_the_focus_and_stays_inside():
    focus = np.zeros((10, 40, 40), bool)
    focus[5, 35:38, 2:4] = True
    box = patch_box(focus, (16, 16, 16))
    assert box == (slice(0, 10), slice(24, 40), slice(0, 16))
    assert region_select(np.zeros((2, 3, 4), bool)).sum().item() == pytest.approx(1.0)


def test_faithfulness_scores_accept_volumes():
    heat = np.zeros((4, 6, 8))
    heat[2, 3, 5] = 1.0
    mask = np.zeros_like(heat, dtype=bool)
    mask[2, 3, 6] = True
    assert pointing_hit(heat, mask, tolerance=1) and not pointing_hit(heat, mask, tolerance=0)
    x = torch.ones(2, 4, 6, 8)
    curves = perturbation_curves(lambda b: b.flatten(1).mean(1).numpy(), x, heat, steps=4)
    assert curves["deletion"][0] == pytest.approx(1.0) and curves["deletion"][-1] == pytest.approx(0.0)
    assert len(curves["insertion"]) == 5
