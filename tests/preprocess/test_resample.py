"""The numpy / Pillow resizing of an exported variant's path against the PyTorch calls of the PyTorch path."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tumorscope.preprocess.pipeline import Preprocessor, with_neighbours
from tumorscope.preprocess.resample import resize_antialiased, resize_bilinear, with_neighbours_array


@pytest.mark.parametrize("shape, size", [((3, 3, 256, 256), (128, 128)), ((2, 1, 100, 77), (128, 128)),
                                         ((2, 1, 64, 64), (128, 128)), ((1, 2, 128, 128), (128, 128))])
def test_resizing_matches_torch_interpolate(shape, size):
    x = np.random.default_rng(0).random(shape, dtype=np.float32) * 3 - 1
    t = torch.from_numpy(x)
    aa = F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=True).numpy()
    plain = F.interpolate(t, size=size, mode="bilinear", align_corners=False).numpy()
    assert resize_antialiased(x, size).shape == aa.shape
    assert np.abs(resize_antialiased(x, size) - aa).max() < 1e-6
    assert np.abs(resize_bilinear(x, size) - plain).max() < 1e-6


def test_network_input_equals_the_torch_tensor_of_the_pytorch_path():
    stack = np.random.default_rng(1).random((5, 96, 80, 3), dtype=np.float32) * 800
    for pre in (Preprocessor(channels="mri3", size=(64, 64)), Preprocessor(channels="flair", context=1)):
        assert np.abs(pre.network_input(stack) - pre.tensor(stack).numpy()).max() < 1e-6
    x = torch.rand(4, 2, 8, 8)
    assert np.array_equal(with_neighbours_array(x.numpy(), 2), with_neighbours(x, 2).numpy())
