"""Region encoding (label map -> WT/TC/ET masks) and decoding (masks -> BraTS labels) for every label scheme,
and the prepared (cropped, z-scored, resampled) case."""

import numpy as np
import pytest

from tests.synthetic import BRATS_SHAPE, brats_labels
from tumorscope.data.brats import SCHEMES, decode_regions, encode_regions, region_labels
from tumorscope.data.brats_volumes import prepare_arrays


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_encode_then_decode_gives_back_the_label_map(scheme):
    s = SCHEMES[scheme]
    edema, core, et = region_labels(s)
    labels = brats_labels().astype(np.int16)
    labels = np.select([labels == 2, labels == 1, labels == 4], [edema, core, et], 0)
    regions = encode_regions(labels, s)
    assert regions.shape == (3, *BRATS_SHAPE)
    assert (regions[1] <= regions[0]).all() and (regions[2] <= regions[1]).all()  # nested
    assert np.array_equal(decode_regions(regions, s), labels)


def test_brats2018_region_labels_and_empty_et():
    s = SCHEMES["brats2018"]
    assert region_labels(s) == (2, 1, 4)
    regions = encode_regions(brats_labels(et=False), s)
    assert not regions[2].any() and regions[1].any()
    assert set(np.unique(decode_regions(regions, s))) == {0, 1, 2}


def test_decoding_enforces_nesting():
    regions = np.zeros((3, 2, 2, 2), dtype=bool)
    regions[2, 0, 0, 0] = True  # ET outside TC and WT: dropped
    regions[0, 1, 1, 1] = regions[2, 1, 1, 1] = True  # ET inside WT but not TC: edema
    out = decode_regions(regions, SCHEMES["brats2018"])
    assert out[0, 0, 0] == 0 and out[1, 1, 1] == 2


def test_prepared_case_is_cropped_zscored_and_resampled():
    labels = np.zeros((20, 24, 28), dtype=np.int16)
    labels[5:15, 6:18, 8:20] = 2
    labels[8:12, 9:15, 11:17] = 4
    images = np.zeros((4, *labels.shape), dtype=np.float32)
    images[:, 2:18, 3:21, 4:24] = 100.0 + np.arange(4)[:, None, None, None] * 50 + labels[2:18, 3:21, 4:24] * 10
    p = prepare_arrays(images, (1.0, 1.0, 1.0), (2.0, 2.0, 2.0), labels, SCHEMES["brats2018"], "x")
    assert p.box == (slice(0, 20), slice(1, 23), slice(2, 26))  # the nonzero box widened by 2
    assert p.images.shape == (4, 10, 11, 12) and p.regions is not None and p.regions.shape == (3, 10, 11, 12)
    brain = p.images[0] != 0
    assert abs(float(p.images[0][brain].mean())) < 0.3  # z-scored over the brain
    assert p.regions[0].sum() > p.regions[2].sum() > 0
    assert p.stats is not None and p.stats.shape == (4, 2)
