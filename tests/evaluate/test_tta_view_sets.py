"""scripts/tta_view_sets.py: geometric test-time views, chosen per fold on validation."""

import numpy as np
import torch

from tests.scripts import load_script


def _script():
    return load_script("tta_view_sets")


def test_warp_identity_rotation_and_zoom():
    s = _script()
    x = torch.rand(2, 1, 8, 8)
    assert s.warp(x, 1.0, 0.0, 0.0, 0.0) is x
    turned = s.warp(x, 1.0, 90.0, 0.0, 0.0)
    assert torch.allclose(turned, torch.rot90(x, 1, (-2, -1)), atol=1e-5) or torch.allclose(
        turned, torch.rot90(x, -1, (-2, -1)), atol=1e-5)
    flat = torch.ones(1, 1, 16, 16)
    assert torch.allclose(s.warp(flat, 1.1, 0.0, 0.0, 0.0), flat, atol=1e-5)  # zooming in keeps a flat image flat
    assert s.warp(flat, 0.9, 0.0, 0.0, 0.0)[0, 0, 0, 0] < 0.5  # zooming out brings in the zero border


def _fold(val_good: str, test_good: str, mirror: bool) -> dict:
    """Two classes, 10 val and 10 test images. Every view is right on images 0-5 and wrong on 6-9, except that the
    views of SETS[good] beyond the plain image and its mirror are right everywhere, which makes that set (and only
    it) right on all 10."""
    s = _script()
    y = np.array([0, 1] * 5)
    fold = {"mirror_chosen": np.array(mirror)}
    for part, good in (("val", val_good), ("test", test_good)):
        fold[f"{part}_y"] = y
        for v in s.SETS["all"]:
            right = np.ones(10, bool) if v in s.SETS[good] and v not in ("id", "id_f") else np.arange(10) < 6
            fold[f"{part}_{v}"] = np.eye(2)[np.where(right, y, 1 - y)] * 0.8 + 0.1
    return fold


def test_choose_picks_on_validation_and_scores_on_test():
    r = _script().choose([_fold("shift", "shift", mirror=True), _fold("rot", "zoom", mirror=False)])
    assert r["chosen"] == ["shift", "rot"] and r["n"] == 20
    assert r["correct"] == {"none": 12, "mirror": 12, "zoom": 16, "rot": 12, "shift": 16, "all": 12,
                            "chosen": 16, "stored": 12}
    assert (r["fixed"], r["broken"]) == (4, 0)


def test_choose_command_needs_predictions(tmp_path, capsys):
    assert _script().main(["choose", str(tmp_path)]) == 2
    assert "no foldF.npz files" in capsys.readouterr().err
