import numpy as np
import pytest
import torch

from tumorscope.errors import TumorscopeError
from tumorscope.preprocess.augment import augmenter
from tumorscope.preprocess.channels import select_channels
from tumorscope.preprocess.enhance import enhance
from tumorscope.preprocess.intensity import normalize
from tumorscope.preprocess.pipeline import Preprocessor, with_neighbours


def test_percentile_normalisation_maps_foreground_to_unit_range_and_keeps_background():
    a = np.zeros((8, 8, 1), np.uint16)
    a[2:6, 2:6, 0] = np.arange(16).reshape(4, 4) * 100 + 50
    out = normalize(a, "percentile")
    assert out.dtype == np.float32
    assert out[0, 0, 0] == 0.0
    assert out.max() == pytest.approx(1.0) and out[2:6, 2:6].min() == pytest.approx(0.0, abs=0.02)


def test_zscore_normalisation_has_zero_mean_on_foreground():
    a = np.random.default_rng(0).normal(100, 20, (16, 16, 2)).astype(np.float32)
    out = normalize(a, "zscore")
    assert abs(out[..., 0].mean()) < 1e-4 and out[..., 1].std() == pytest.approx(1.0, abs=1e-3)


def test_channel_selection_rules():
    rgb = np.stack([np.full((4, 4), v, np.uint8) for v in (10, 20, 30)], axis=-1)
    assert select_channels(rgb, "flair")[..., 0].max() == 20  # kaggle_3m: FLAIR is channel 1
    rgba = np.concatenate([rgb, np.full((4, 4, 1), 255, np.uint8)], axis=-1)
    assert select_channels(rgba, "flair").shape == (4, 4, 1)
    gray = rgb[..., :1]
    assert select_channels(gray, "rgb").shape == (4, 4, 3)
    assert select_channels(gray, "mri3").shape == (4, 4, 3)  # one sequence fills all three, as kaggle_3m does
    assert select_channels(rgba, "mri3")[..., 2].max() == 30
    assert select_channels(rgba, "all").shape == (4, 4, 4)  # "all" is unchanged: four BraTS modalities stay four
    with pytest.raises(TumorscopeError, match="2 channels"):
        select_channels(np.zeros((4, 4, 2)), "flair", path="x.png")


def test_enhancement_methods_keep_shape_and_range():
    s = np.random.default_rng(1).random((32, 32, 1)).astype(np.float32)
    for m in ("clahe", "histeq", "denoise"):
        out = enhance(s, m)
        assert out.shape == s.shape and out.min() >= 0 and out.max() <= 1.0 + 1e-6
    with pytest.raises(ValueError):
        enhance(s, "sharpen")


def test_preprocessor_resizes_normalises_per_volume_and_round_trips_config():
    stack = np.random.default_rng(2).integers(0, 255, (3, 40, 50, 3), dtype=np.uint8)
    pre = Preprocessor(size=(32, 32))
    x = pre.tensor(stack)
    assert x.shape == (3, 1, 32, 32) and x.dtype == torch.float32
    assert Preprocessor.from_dict(pre.to_dict()) == pre
    with pytest.raises(TumorscopeError, match="trained on 3"):
        Preprocessor(channels="all", expected_channels=3).tensor(np.zeros((1, 4, 4, 2), np.float32), path="two.tif")
    with pytest.raises(TumorscopeError, match="NaN"):
        Preprocessor(channels="all").tensor(np.full((1, 4, 4, 1), np.nan, np.float32))


def test_neighbour_context_uses_adjacent_slices_and_repeats_edges():
    x = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    y = with_neighbours(x, 1)
    assert y.shape == (4, 3, 2, 2)
    assert y[0, :, 0, 0].tolist() == [0, 0, 1]
    assert y[3, :, 0, 0].tolist() == [2, 3, 3]
    assert Preprocessor(context=1).in_channels == 3


def test_batch_augmentation_moves_mask_with_image_and_is_seeded():
    img = torch.zeros(8, 1, 32, 32)
    img[:, 0, 4:12, 4:12] = 1.0
    im, m = augmenter("segmentation", "heavy", seed=3)(img.clone(), img.clone())
    assert im.shape == img.shape and m.shape == img.shape
    assert set(torch.unique(m).tolist()) <= {0.0, 1.0}  # nearest interpolation keeps the mask binary
    inside = im[m > 0]
    assert (inside > 0.3).float().mean() > 0.8  # the mask still sits on the bright square
    im2, _ = augmenter("segmentation", "heavy", seed=3)(img.clone(), img.clone())
    assert torch.equal(im, im2)
    assert m is not None and im.shape == img.shape
    same, _ = augmenter("segmentation", "none")(img, None)
    assert same is img
