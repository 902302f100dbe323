"""Choosing the ET volume rule on validation cases, including cases without ET."""

import numpy as np

from tumorscope.predict.brats_regions import RegionPost
from tumorscope.train.brats_post import choose_region_post


def _case(et_voxels: int, truth_et: bool) -> tuple[np.ndarray, np.ndarray]:
    probs = np.zeros((3, 10, 10, 10), dtype=np.float32)
    probs[:2, 2:8, 2:8, 2:8] = 0.9
    et = np.zeros(216, dtype=np.float32)
    et[:et_voxels] = 0.9
    probs[2, 2:8, 2:8, 2:8] = et.reshape(6, 6, 6)  # inside TC
    truth = RegionPost().masks(probs).astype(np.uint8)  # nested as a prediction is
    if not truth_et:
        truth[2] = 0
    return probs, truth


def test_a_false_small_et_in_a_case_without_et_raises_the_threshold():
    cases = [_case(40, truth_et=False), _case(120, truth_et=True)]
    post, record = choose_region_post([c[0] for c in cases], [c[1] for c in cases])
    assert post.et_min_voxels == 50  # drops the spurious 40-voxel ET, keeps the real 120-voxel one
    assert max(r["dice_mean"] for r in record["et_candidates"]) == 1.0 and record["n_cases"] == 2


def test_without_small_false_et_the_rule_stays_off():
    cases = [_case(200, truth_et=True), _case(0, truth_et=False)]
    post, _ = choose_region_post([c[0] for c in cases], [c[1] for c in cases])
    assert post.et_min_voxels == 0


def test_a_small_far_false_component_is_removed_with_what_it_holds():
    probs, truth = _case(200, truth_et=True)
    noisy = probs.copy()
    noisy[:, 0, 0, 0:2] = 0.9  # a 2-voxel false tumor (all three regions), far from the real one
    post, record = choose_region_post([noisy], [truth], wt=(0, 2, 10))
    assert post.wt_min_voxels == 10 and record["chosen"]["wt_min_voxels"] == 10  # 2 still keeps the blob
    assert not post.masks(noisy)[:, 0, 0, :2].any() and post.masks(noisy)[0].sum() == truth[0].sum()
