"""``evaluate --model M --data BRATS``: a bundle run on BraTS cases, its outputs scored as BraTS regions."""

import json

import numpy as np
import pytest

from tumorscope.bundle import load_bundle
from tumorscope.cli import main
from tumorscope.data.dataset import load_dataset
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.brats_model import input_modalities, output_regions, score_bundle


def _config(n_in: int, n_out: int, **extra) -> dict:
    return {"model": {"in_channels": n_in, "out_channels": n_out}, **extra}


def test_modalities_and_regions_come_from_the_option_the_bundle_or_the_channel_counts():
    assert input_modalities(_config(4, 3), None) == ("flair", "t1", "t1ce", "t2")
    assert input_modalities(_config(3, 1), ["flair"]) == ("flair",)
    assert input_modalities(_config(2, 1, modalities=["t1ce", "flair"]), None) == ("t1ce", "flair")
    assert output_regions(_config(4, 3), None) == ("WT", "TC", "ET")
    assert output_regions(_config(1, 1), ["WT"]) == ("WT",)
    with pytest.raises(TumorscopeError, match="pass --modalities"):
        input_modalities(_config(3, 1), None)
    with pytest.raises(TumorscopeError, match="pass --region"):
        output_regions(_config(1, 1), None)
    with pytest.raises(TumorscopeError, match="at most 1"):
        output_regions(_config(1, 1), ["WT", "TC"])
    with pytest.raises(TumorscopeError, match="unknown modalities"):
        input_modalities(_config(1, 1), ["pd"])


def test_three_output_bundle_is_scored_per_region_with_cis(tiny_brats_bundles, tmp_path):
    root, _, three = tiny_brats_bundles
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(three), "--data", str(root), "--out", str(out), "--boot", "50"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["regions"]) == {"WT", "TC", "ET"} and m["modalities"] == ["flair", "t1", "t1ce", "t2"]
    assert len(m["per_case"]) == 6 and (out / "per_case.csv").exists()
    wt = m["regions"]["WT"]
    assert 0.0 <= wt["dice_ci95"][0] <= wt["dice_mean"] <= wt["dice_ci95"][1] <= 1.0
    # the three outputs are the same network: the same mask scored against nested regions, so WT (the mask's
    # own target) scores best and the predicted volume is the same in every region
    assert wt["dice_mean"] > 0.5 and wt["dice_mean"] > m["regions"]["ET"]["dice_mean"]
    assert {round(m["regions"][r]["pred_ml_mean"], 6) for r in ("WT", "TC", "ET")} == {round(wt["pred_ml_mean"], 6)}


def test_one_output_bundle_is_scored_only_on_the_region_named(tiny_brats_bundles, tmp_path, capsys):
    root, one, _ = tiny_brats_bundles
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(one), "--data", str(root), "--region", "WT", "--out", str(out),
                 "--boot", "20"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["regions"]) == ["WT"] and "TC_dice" not in m["per_case"][0]
    assert main(["evaluate", "--model", str(one), "--data", str(root), "--out", str(tmp_path / "e2")]) != 0
    assert "names no BraTS regions: pass --region" in capsys.readouterr().err


def test_a_case_missing_a_modality_is_an_error_naming_what_is_there(tiny_brats_bundles, tmp_path, capsys):
    import shutil

    root, one, _ = tiny_brats_bundles
    copy = tmp_path / "cases"
    shutil.copytree(root, copy)
    next(copy.glob("*/*_t1ce.nii.gz")).unlink()
    assert main(["evaluate", "--model", str(one), "--data", str(copy), "--region", "WT", "--out",
                 str(tmp_path / "e")]) != 0
    err = capsys.readouterr().err
    assert "t1ce" in err and "present: flair, t1, t2" in err and "Traceback" not in err


def test_lgg_flair_seg_on_a_real_brats_case_scores_its_flair_against_the_whole_tumor(brats_dir):
    """The 2-D kaggle_3m model on one real BraTS FLAIR volume (slice by slice): a real, imperfect WT overlap."""
    ds = load_dataset(brats_dir)
    rows = score_bundle(load_bundle("lgg-flair-seg"), ds.samples[:1], ds.layout, ("flair",), ("WT",))
    (row,) = rows
    assert set(k.split("_")[0] for k in row if k != "case") == {"WT"}
    assert 0.05 < row["WT_dice"] < 0.99 and row["WT_truth_ml"] > 10 and np.isfinite(row["WT_hd95_mm"])
