"""Faithfulness evaluation on a handful of real BUSI images (masks of mixed modes and sizes)."""

import numpy as np
import pytest

from tests.explain.helpers import tiny_classification_bundle
from tumorscope.data.dataset import load_dataset
from tumorscope.explain.evaluate import evaluate_explanations, load_scorable


@pytest.mark.shared_data
def test_busi_images_are_explained_and_scored_against_their_masks(busi_dir, tmp_path):
    samples = load_dataset(busi_dir).samples
    names = {"benign (1).png", "benign (4).png", "malignant (1).png", "normal (1).png"}
    picked = [s for s in samples if s.image.name in names]
    assert len(picked) == 4
    stacks, skipped = load_scorable(picked)
    assert len(stacks) == 3 and len(skipped) == 1 and "benign (4)_mask_1.png" in skipped[0]  # odd-sized 2nd mask
    bundle = tiny_classification_bundle(tmp_path / "cls", ["benign", "malignant", "normal"], steps=2)
    m = evaluate_explanations(bundle, stacks, ("gradcam", "saliency"), steps=4, n_boot=20)
    assert m["n_slices"] == 2  # the normal image has an empty mask: nothing to point at
    assert {r["label"] for r in m["per_slice"]} == {"benign", "malignant"}
    for e in m["methods"].values():
        assert 0 <= e["energy_in_mask"]["mean"] <= 1 and np.isfinite(e["deletion_auc"]["mean"])
