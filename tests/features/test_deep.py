"""Deep features (``tumorscope features --kind deep``): the penultimate layer found in U-Nets, ensembles and
classifiers, pooled over the ROI exactly; the table it writes; joining it with a radiomics table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.synthetic import write_kaggle3m
from tumorscope.cli import main
from tumorscope.features.deep import embed, penultimate_layers, roi_on_grid
from tumorscope.models import build_model


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_penultimate_layer_is_the_last_narrowing_layer_of_each_network():
    unet = build_model("unet2d", 1, 1, width=16)
    (layer,) = penultimate_layers(unet)
    assert isinstance(layer, nn.ConvTranspose2d) and layer.in_channels == 32 and layer.out_channels == 1
    head = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    assert penultimate_layers(head) == [head[3]]
    ens = build_model("ensemble", 3, 1, members=[{"name": "unet2d", "in_channels": 1, "options": {"width": 8},
                                                   "channels": [1]}] * 2)
    assert [type(m) for m in penultimate_layers(ens)] == [nn.ConvTranspose2d] * 2


def test_embed_is_the_roi_weighted_mean_of_the_penultimate_activations():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 1), nn.ReLU(), nn.Conv2d(4, 1, 1))
    x = torch.randn(3, 1, 8, 8)
    roi = torch.zeros(3, 8, 8)
    roi[0, 2:5, 3:7] = 1
    roi[1, 0, 0] = 1  # slice 2: no ROI -> zeros
    got = embed(net, x, roi)
    act = torch.relu(net[0](x)).detach()
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got[0], act[0, :, 2:5, 3:7].mean((1, 2)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(got[1], act[1, :, 0, 0].numpy(), rtol=1e-5)
    assert not got[2].any()
    pooled = nn.Sequential(nn.Conv2d(1, 4, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    np.testing.assert_allclose(embed(pooled, x, roi), pooled[:3](x).detach().numpy(), rtol=1e-5)  # ROI-free vector


def test_roi_on_grid_crops_to_the_box_and_keeps_the_area_fraction():
    mask = np.zeros((1, 10, 10), bool)
    mask[0, 4:6, 4:6] = True
    grid = roi_on_grid(mask, (2, 2, 8, 8), (4, 4))  # box rows/cols 2..9, then 8 -> 4: mask lands on cells (1, 1)
    assert grid.shape == (1, 4, 4)
    assert float(grid[0, 1, 1]) == 1.0 and float(grid.sum()) == 1.0
    outside = roi_on_grid(mask, (-4, -4, 8, 8), (8, 8))  # a box reaching outside the image: padded with 0
    assert float(outside.sum()) == 0.0


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_kaggle3m(tmp_path_factory.mktemp("lgg"), n_patients=2, n_slices=3, size=64)


def test_deep_table_per_slice_and_per_volume_from_the_bundled_unet(kaggle: Path, tmp_path: Path):
    slices, vols = tmp_path / "s.csv", tmp_path / "v.csv"
    base = ["features", "--data", str(kaggle), "--kind", "deep", "--roi", "mask"]
    assert main([*base, "-o", str(slices)]) == 0
    assert main([*base, "--level", "volume", "-o", str(vols)]) == 0
    rows, vrows = _read(slices), _read(vols)
    feats = [c for c in rows[0] if c.startswith("deep_")]
    assert len(feats) == 4 * 32  # lgg-flair-seg: 4 U-Nets x 32 channels before the last up-convolution
    assert len(rows) == 6 and len(vrows) == 2
    empty = [r for r in rows if r["roi_status"] == "empty"]
    assert empty and all(r["deep_000"] == "" and r["roi_pixels"] == "0" for r in empty)
    tumor = [r for r in rows if r["roi_status"] == "ok"]
    (vol,) = [r for r in vrows if r["roi_status"] == "ok"]
    w = np.array([float(r["roi_pixels"]) for r in tumor])
    expected = sum(wi * np.array([float(r[c]) for c in feats]) for wi, r in zip(w, tumor)) / w.sum()
    np.testing.assert_allclose([float(vol[c]) for c in feats], expected, rtol=1e-5)  # area-weighted slice mean
    meta = json.loads((tmp_path / "v.meta.json").read_text())
    assert meta["kind"] == "deep" and meta["model"] == "lgg-flair-seg"


def test_join_puts_radiomics_and_deep_columns_side_by_side(kaggle: Path, tmp_path: Path, capsys):
    rad, deep, both = tmp_path / "r.csv", tmp_path / "d.csv", tmp_path / "b.csv"
    assert main(["features", "--data", str(kaggle), "--roi", "mask", "--filters", "none", "--jobs", "1",
                 "-o", str(rad)]) == 0
    assert main(["features", "--data", str(kaggle), "--kind", "deep", "--roi", "mask", "-o", str(deep)]) == 0
    assert main(["features", "--join", str(rad), str(deep), "-o", str(both)]) == 0
    r, d, b = _read(rad), _read(deep), _read(both)
    assert len(b) == len(r) == len(d)
    assert set(b[0]) == set(r[0]) | set(d[0])
    assert [x["roi_status"] for x in b] == [x["roi_status"] for x in r]
    meta = json.loads((tmp_path / "b.meta.json").read_text())
    assert meta["kind"] == "joined" and [p["kind"] for p in meta["parts"]] == ["radiomics", "deep"]
    assert json.loads((tmp_path / "b.params.json").read_text()) == json.loads((tmp_path / "r.params.json").read_text())
    assert main(["features", "--join", str(rad), str(rad), "-o", str(tmp_path / "x.csv")]) == 2
    assert "shares feature column" in capsys.readouterr().err
