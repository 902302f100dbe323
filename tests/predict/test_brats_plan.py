"""The BraTS plan (target spacing from the field of view, patch from the brain boxes) and the region
post-processing (thresholds, nesting, the ET volume rule)."""

import numpy as np

from tumorscope.predict.brats_plan import FOV_BUDGET, BratsPlan, make_brats_plan, target_spacing, with_boxes
from tumorscope.predict.brats_regions import RegionPost, region_dice


def test_target_spacing_is_the_finest_that_fits_the_budget():
    brats = np.array([[155, 240, 240]] * 3)
    assert target_spacing(brats, np.ones((3, 3))) == 2.5  # 240x240x155 mm: 0.57 M voxels at 2.5 mm
    assert target_spacing(np.array([[20, 24, 24]]), np.ones((1, 3))) == 1.0
    assert target_spacing(brats, np.ones((3, 3)), budget=FOV_BUDGET * 100) == 1.0


def test_plan_patch_fits_the_brain_box_and_round_trips():
    plan = make_brats_plan([(155, 240, 240)] * 4, [(1.0, 1.0, 1.0)] * 4, batch_size=2)
    plan = with_boxes(plan, [(56, 66, 54), (58, 64, 52), (54, 68, 56)])
    assert plan.spacing == (2.5, 2.5, 2.5) and plan.median_box == (56, 66, 54)
    assert all(p % 16 == 0 for p in plan.patch_size) and np.prod(plan.patch_size) <= 48**3
    assert BratsPlan.from_dict(plan.to_dict()) == plan


def test_region_post_nests_and_relabels_small_et_to_core():
    probs = np.zeros((3, 4, 4, 4), dtype=np.float32)
    probs[0, :2] = 0.9
    probs[1, :1] = 0.9
    probs[2, 0, 0, :2] = 0.9  # two ET voxels
    probs[2, 3, 3, 3] = 0.9  # ET outside WT: dropped
    m = RegionPost().masks(probs)
    assert m[2].sum() == 2 and m[1].sum() == 16 and m[0].sum() == 32
    m = RegionPost(et_min_voxels=3).masks(probs)
    assert m[2].sum() == 0 and m[1].sum() == 16  # the small ET becomes core: TC keeps it


def test_region_dice_counts_both_empty_as_one():
    a = np.zeros((3, 2, 2), dtype=bool)
    b = a.copy()
    a[0, 0, 0] = b[0, 0, 0] = True
    a[1, 0, 0] = True
    assert region_dice(a, b).tolist() == [1.0, 0.0, 1.0]
