"""Foreground cropping: a square box around the body part, background padding, and the no-foreground case."""

import numpy as np
import pytest
import torch

from tumorscope.errors import TumorscopeError
from tumorscope.preprocess.crop import crop_foreground, foreground_box
from tumorscope.preprocess.pipeline import Preprocessor


def disc(h: int = 100, w: int = 120, cy: int = 40, cx: int = 70, r: int = 20) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return (((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r).float()[None, None]


def test_box_is_square_around_the_foreground_with_a_margin():
    top, left, bh, bw = foreground_box(disc())
    assert bh == bw and 41 <= bh <= 46  # 41-px disc + 4% margin each side
    assert top <= 20 and top + bh >= 61 and left <= 50 and left + bw >= 91


def test_specks_and_thin_text_do_not_widen_the_box():
    x = disc()
    x[..., 2, 2:4] = 1.0  # a bright speck in a corner
    top, left, side, _ = foreground_box(x)
    assert top > 10 and left > 40 and side < 50


def test_crop_pads_with_background_when_the_box_leaves_the_image():
    x = disc(cy=10, r=15) * 0.8 + 0.1  # background 0.1, disc touching the top edge
    out = crop_foreground(x)
    assert out.shape[-1] == out.shape[-2] and out.shape[-1] < 60
    assert float(out[..., 0, :].min()) == pytest.approx(0.1)  # padded rows carry the background value
    assert float(out.max()) == pytest.approx(0.9)


def test_flat_image_is_left_alone_and_preprocessor_crops_before_resizing():
    flat = torch.zeros(1, 1, 20, 30)
    assert crop_foreground(flat) is flat
    image = (disc().numpy()[0, 0] * 200).astype(np.uint8)[..., None]
    plain = Preprocessor(channels="gray", normalization="none", size=(32, 32)).tensor(image[None])
    cropped = Preprocessor(channels="gray", normalization="none", size=(32, 32), crop="foreground").tensor(image[None])
    assert plain.shape == cropped.shape == (1, 1, 32, 32)
    assert float(cropped.mean()) > 2 * float(plain.mean())  # the disc fills the picture after cropping
    assert Preprocessor.from_dict(Preprocessor(crop="foreground").to_dict()).crop == "foreground"
    with pytest.raises(TumorscopeError, match="crop 'centre'"):
        Preprocessor(crop="centre")


def test_maps_on_the_network_grid_go_back_onto_the_crop_box():
    image = (disc().numpy()[0, 0] * np.linspace(100, 200, 120)).astype(np.uint8)[..., None]
    pre = Preprocessor(channels="gray", size=(16, 16), crop="foreground")
    top, left, side, _ = foreground_box(torch.from_numpy(pre.arrays(image[None])))
    back = pre.to_input_grid(np.ones((1, 16, 16), dtype=np.float32), image[None])
    assert back.shape == (1, 100, 120)
    assert back[0, top + 1:top + side - 1, left + 1:left + side - 1].min() == pytest.approx(1.0)
    assert back[0, :, :max(left, 0)].max() == 0 and back[0, :, left + side:].max() == 0  # nothing outside the box
    plain = Preprocessor(channels="gray", size=(16, 16)).to_input_grid(np.ones((1, 16, 16)), image[None])
    assert plain.shape == (1, 100, 120) and plain.min() == pytest.approx(1.0)
