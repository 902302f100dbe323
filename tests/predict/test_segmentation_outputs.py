"""``tumorscope predict`` on a real LGG patient folder writes exactly the mask the model computes: the PNG masks
(written by parallel writers since issue 29) equal :func:`segment`'s mask slice by slice, summary.json's Dice
equals the Dice of that mask against the folder's ground truth, and each tumor slice has its overlay."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tumorscope.bundle import load_bundle
from tumorscope.cli import main
from tumorscope.predict.inputs import read_input
from tumorscope.predict.overlap import dice
from tumorscope.predict.segmentation import segment


@pytest.mark.shared_data
def test_written_masks_are_the_computed_masks(lgg_dir, tmp_path):
    bundle = load_bundle("lgg-flair-seg")
    patient = lgg_dir / "kaggle_3m" / bundle.config["example_volume"]
    out = tmp_path / "pred"
    assert main(["predict", "-i", str(patient), "-o", str(out)]) == 0
    inp = read_input(patient)
    _, mask = segment(bundle, inp)
    written = np.stack([np.asarray(Image.open(out / "masks" / f"{name}_mask.png")) for name in inp.names])
    assert set(np.unique(written)) <= {0, 255}
    np.testing.assert_array_equal(written == 255, mask)
    summary = json.loads((out / "summary.json").read_text())
    assert inp.truth is not None and mask.any()
    assert summary["dice_vs_ground_truth"] == pytest.approx(dice(mask, inp.truth), abs=1e-6)
    assert summary["volume_pixels"] == int(mask.sum())
    overlays = sorted(p.stem for p in (out / "overlays").iterdir())
    assert overlays == sorted(summary["slices_with_tumor"])
