import numpy as np

from tumorscope.predict.postprocess import (
    PostProcess,
    count_components,
    fill_holes_per_slice,
    remove_small_components,
)


def test_small_components_removed_large_kept():
    m = np.zeros((2, 20, 20), bool)
    m[0, 2:10, 2:10] = True  # 64
    m[1, 15, 15] = True  # 1
    out = remove_small_components(m, 10)
    assert out[0].sum() == 64 and out[1].sum() == 0
    assert count_components(m) == 2 and count_components(out) == 1


def test_fill_holes_per_slice():
    m = np.zeros((1, 9, 9), bool)
    m[0, 2:7, 2:7] = True
    m[0, 4, 4] = False
    assert fill_holes_per_slice(m)[0, 4, 4]


def test_postprocess_thresholds_and_round_trips():
    prob = np.zeros((1, 10, 10), np.float32)
    prob[0, 2:8, 2:8] = 0.7
    prob[0, 0, 0] = 0.9
    pp = PostProcess(threshold=0.6, min_size=5)
    mask = pp(prob)
    assert mask.sum() == 36 and not mask[0, 0, 0]
    assert PostProcess.from_dict(pp.to_dict()) == pp
