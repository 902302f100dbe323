"""The faithfulness scores on hand-made maps, and on oracle networks whose evidence is known."""

import numpy as np
import pytest
import torch

from tests.explain.helpers import blob_batch, oracle_bundle
from tumorscope.data.volumes import SliceStack
from tumorscope.explain.evaluate import evaluate_explanations, pick_tumor_slices
from tumorscope.explain.faithfulness import (
    curve_auc,
    energy_in_mask,
    perturbation_curves,
    pointing_hit,
    tolerance_region,
)
from tumorscope.explain.methods import METHODS


def _square_mask(size=20, lo=8, hi=12):
    m = np.zeros((size, size), bool)
    m[lo:hi, lo:hi] = True
    return m


def test_pointing_game_uses_the_stated_tolerance():
    mask = _square_mask()
    heat = np.zeros((20, 20))
    heat[9, 9] = 1.0
    assert pointing_hit(heat, mask, tolerance=0)
    heat = np.zeros((20, 20))
    heat[9, 15] = 1.0  # 4 px right of the mask's last column (11)
    assert not pointing_hit(heat, mask, tolerance=3)
    assert pointing_hit(heat, mask, tolerance=4)
    assert not pointing_hit(np.zeros((20, 20)), mask, tolerance=5)  # no evidence points nowhere
    assert tolerance_region(mask, 2).sum() > mask.sum()


def test_energy_in_mask_counts_positive_heat_only():
    mask = _square_mask()
    heat = np.zeros((20, 20))
    heat[9, 9] = 3.0
    heat[0, 0] = 1.0
    heat[1, 1] = -5.0  # negative evidence is ignored
    assert energy_in_mask(heat, mask) == pytest.approx(0.75)
    assert energy_in_mask(-np.ones((20, 20)), mask) == 0.0


def test_curve_auc_and_deletion_beats_random_for_the_true_evidence():
    assert curve_auc(np.ones(11)) == pytest.approx(1.0)
    assert curve_auc(np.linspace(1, 0, 11)) == pytest.approx(0.5)
    mask = _square_mask()
    x = torch.from_numpy(np.where(mask, 1.0, 0.1)[None].astype(np.float32))

    def score(batch):  # the mean intensity inside the mask: only mask pixels matter
        return batch[:, 0, torch.from_numpy(mask)].mean(dim=1).numpy()

    true = perturbation_curves(score, x, mask.astype(float), steps=10)
    rand = perturbation_curves(score, x, np.random.default_rng(0).random((20, 20)), steps=10)
    assert true["deletion"][0] == pytest.approx(1.0) and true["deletion"][-1] == pytest.approx(0.0)
    assert curve_auc(true["deletion"]) < curve_auc(rand["deletion"]) - 0.3
    assert curve_auc(true["insertion"]) > curve_auc(rand["insertion"])


@pytest.mark.parametrize("task", ["segmentation", "classification"])
def test_every_method_finds_the_oracles_evidence(task, tmp_path):
    x, masks = blob_batch(4, 32)
    images = (x[:, 0, :, :, None].numpy() * 255).astype(np.uint8)
    stacks = [SliceStack(f"case{i}", f"p{i}", images[i : i + 1], masks[i : i + 1]) for i in range(4)]
    m = evaluate_explanations(oracle_bundle(task, tmp_path), stacks, METHODS, tolerance=2, steps=8, n_boot=50)
    assert m["n_slices"] == 4 and m["n_patients"] == 4
    chance = m["baselines"]
    assert chance["pointing_game_random_point"]["mean"] < 0.2
    for name, e in m["methods"].items():
        assert e["pointing_game"]["mean"] == 1.0, name
        assert e["energy_in_mask"]["mean"] > 3 * chance["energy_in_mask_uniform_map"]["mean"], name
        assert e["deletion_auc"]["mean"] < chance["deletion_auc_random_order"]["mean"], name
        assert e["insertion_auc"]["mean"] > chance["insertion_auc_random_order"]["mean"], name
        lo, hi = e["energy_in_mask"]["ci95"]
        assert lo <= e["energy_in_mask"]["mean"] <= hi and e["energy_in_mask"]["n"] == 4
        assert len(e["mean_deletion_curve"]) == 9


def test_pick_tumor_slices_thins_evenly_and_skips_tumor_free_slices():
    masks = np.zeros((6, 4, 4), bool)
    masks[1:, 1, 1] = True
    stack = SliceStack("v", "p", np.zeros((6, 4, 4, 1), np.uint8), masks)
    assert pick_tumor_slices([stack]) == [(0, k) for k in range(1, 6)]
    assert pick_tumor_slices([stack], max_slices=3) == [(0, 1), (0, 3), (0, 5)]
