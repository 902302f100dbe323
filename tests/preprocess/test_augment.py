"""The augmentation transforms: draw/apply separation, seeded draws, image + mask together, 2-D and 3-D."""

import pytest
import torch

from tumorscope.errors import TumorscopeError
from tumorscope.preprocess.augment import (
    TABLES,
    Affine,
    Compose,
    ContrastBrightness,
    CropResize,
    Elastic,
    Flip,
    Gain,
    Gamma,
    Noise,
    Rot90,
    ScaleShift,
    augmenter,
    levels,
)

ALL = [Flip(-1, p=0.5), Rot90(0.5), Affine(0.7, 0.3, 0.1, shift=0.1), CropResize((0.4, 1.0)), Elastic(0.05, 4),
       Gamma(0.5, 0.7, 1.4), Gain(0.5, 0.8, 1.2), ContrastBrightness(0.5), ScaleShift(), Noise(0.5, 0.1)]
SPATIAL_3D = [Flip(-3), Affine(0.7, 0.3, 0.1, shift_px=2), CropResize(), Elastic(0.05, 3), Gamma(0.5, 0.7, 1.4)]


def test_flip_of_a_2x2_image_and_mask():
    image = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[5.0, 6.0], [7.0, 8.0]]]])
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 1.0], [0.0, 0.0]]]])
    params = {"on": torch.tensor([True, False])}  # flip the first sample only
    im, m = Flip(-1).apply(image, mask, params)
    assert im[0, 0].tolist() == [[2.0, 1.0], [4.0, 3.0]] and im[1, 0].tolist() == [[5.0, 6.0], [7.0, 8.0]]
    assert m is not None and m[0, 0].tolist() == [[0.0, 1.0], [0.0, 0.0]] and torch.equal(m[1], mask[1])
    up, _ = Flip(-2).apply(image, None, {"on": torch.tensor([True, True])})
    assert up[0, 0].tolist() == [[3.0, 4.0], [1.0, 2.0]]


def test_flip_of_a_2x2x2_volume():
    vol = torch.arange(8.0).view(1, 1, 2, 2, 2)
    out, _ = Flip(-3).apply(vol, None, {"on": torch.tensor([True])})
    assert torch.equal(out[0, 0, 0], vol[0, 0, 1]) and torch.equal(out[0, 0, 1], vol[0, 0, 0])


def test_quarter_turn_of_a_2x2_image():
    image = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, m = Rot90().apply(image, image.clone(), {"k": torch.tensor([1])})
    assert out[0, 0].tolist() == [[2.0, 4.0], [1.0, 3.0]] and m is not None and torch.equal(m, out)


@pytest.mark.parametrize("t", ALL, ids=lambda t: type(t).__name__)
def test_apply_is_deterministic_and_draws_are_seeded_per_sample(t):
    x = torch.rand(6, 2, 16, 16)
    params = t.draw(torch.Generator().manual_seed(0), x)
    assert all(len(v) == len(x) for v in params.values())  # one draw per sample
    a, _ = t.apply(x, None, params)
    b, _ = t.apply(x, None, params)
    assert torch.equal(a, b) and a.shape == x.shape
    again = t.draw(torch.Generator().manual_seed(0), x)
    assert all(torch.equal(params[k], again[k]) for k in params)


@pytest.mark.parametrize("t", SPATIAL_3D, ids=lambda t: type(t).__name__)
def test_transforms_take_volumes(t):
    x = torch.rand(3, 1, 6, 8, 8)
    mask = (x > 0.5).float()
    out, m = t(x, mask, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and m is not None and m.shape == mask.shape
    assert set(torch.unique(m).tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("t", [Affine(1.0, 0.5, 0.2, shift=0.2), Elastic(0.1, 4), CropResize((0.3, 0.5))],
                         ids=lambda t: type(t).__name__)
def test_geometry_moves_the_mask_with_the_image(t):
    x = torch.zeros(8, 1, 32, 32)
    x[:, :, 10:22, 8:20] = 1.0
    im, m = t(x, x.clone(), torch.Generator().manual_seed(2))
    assert m is not None and set(torch.unique(m).tolist()) <= {0.0, 1.0}  # nearest keeps the mask binary
    assert not torch.equal(m, x)  # it moved
    assert (im[m > 0] > 0.5).float().mean() > 0.9  # and still sits on the bright square


def test_intensity_leaves_the_mask_alone():
    x, mask = torch.rand(4, 1, 8, 8), torch.ones(4, 1, 8, 8)
    for t in (Gamma(1.0, 0.5, 2.0), Gain(1.0, 0.5, 0.6), ContrastBrightness(1.0), ScaleShift(), Noise(1.0, 0.1)):
        im, m = t(x, mask, torch.Generator().manual_seed(0))
        assert m is mask and not torch.equal(im, x)


def test_gamma_keeps_each_samples_range():
    x = torch.rand(4, 1, 8, 8) * 3 + 1
    out, _ = Gamma(1.0, 0.5, 2.0)(x, None, torch.Generator().manual_seed(0))
    assert torch.allclose(out.amin(dim=(1, 2, 3)), x.amin(dim=(1, 2, 3)), atol=1e-5)
    assert torch.allclose(out.amax(dim=(1, 2, 3)), x.amax(dim=(1, 2, 3)), atol=1e-5)


def test_probability_zero_is_the_identity():
    x = torch.rand(4, 1, 8, 8)
    for t in (Flip(-1, p=0.0), Rot90(0.0), Affine(0.0, 0.5, 0.5), Gamma(0.0, 0.5, 2), Gain(0.0, 0.5, 2), Noise(0.0, 1)):
        out, _ = t(x, None, torch.Generator())
        assert torch.equal(out, x), t


def test_compose_draws_apart_and_reproduces_with_a_seed():
    x, mask = torch.rand(5, 1, 16, 16), (torch.rand(5, 1, 16, 16) > 0.5).float()
    a, b = augmenter("segmentation", "heavy", seed=4), augmenter("segmentation", "heavy", seed=4)
    params = a.draw(x)
    first = a.apply(x, mask, params)
    assert all(torch.equal(u, v) for u, v in zip(first, a.apply(x, mask, params)))  # replaying a draw
    assert all(torch.equal(u, v) for u, v in zip(first, b(x, mask)))  # the same seed draws the same
    assert not torch.equal(a(x, mask)[0], first[0])  # the next batch gets new draws


def test_levels_are_one_table_per_task():
    assert levels("classification") == ("none", "light", "default", "heavy", "strong")
    assert levels("segmentation") == levels("volumetric") == ("none", "light", "default", "heavy")
    assert len(TABLES["segmentation"]["heavy"]) > len(TABLES["segmentation"]["default"])
    assert isinstance(augmenter("volumetric", "default"), Compose)
    x = torch.rand(2, 1, 8, 8)
    assert augmenter("classification", "none")(x)[0] is x
    with pytest.raises(TumorscopeError, match="--augment 'strong'"):
        augmenter("segmentation", "strong")
