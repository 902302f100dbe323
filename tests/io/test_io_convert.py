"""to_rgb / to_gray / stack_slices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tumorscope.errors import TumorscopeError
from tumorscope.io import Image, stack_slices, to_gray, to_rgb


def _rgba() -> Image:
    array = np.zeros((2, 2, 4), np.uint8)
    array[..., 0] = 200
    array[..., 3] = [[255, 0], [128, 255]]
    return Image.from_array(array)


def test_to_rgb_drops_or_composites_alpha() -> None:
    assert to_rgb(_rgba()).array[..., 0].tolist() == [[200, 200], [200, 200]]
    white = to_rgb(_rgba(), background=255).array
    assert white.dtype == np.uint8 and white.shape == (2, 2, 3)
    assert white[..., 0].tolist() == [[200, 255], [227, 200]]  # 200*a + 255*(1-a), a = 128/255 -> 227
    assert white[..., 1].tolist() == [[0, 255], [127, 0]]


def test_to_rgb_repeats_gray_and_to_gray_uses_bt601_luma() -> None:
    gray = Image.from_array(np.array([[[10], [250]]], np.uint8))
    np.testing.assert_array_equal(to_rgb(gray).array, np.repeat(gray.array, 3, axis=-1))
    np.testing.assert_array_equal(to_gray(to_rgb(gray)).array, gray.array)  # gray stored as RGB is exact
    pure = Image.from_array(np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8))
    assert to_gray(pure).array[..., 0].tolist() == [[76, 150, 29]]
    u16 = Image.from_array(np.full((1, 1, 4), 60000, np.uint16))
    assert to_gray(u16).array.dtype == np.uint16 and to_gray(u16).array.item() == 60000


def test_to_gray_rejects_unknown_channel_counts() -> None:
    with pytest.raises(ValueError, match="1-4 channels"):
        to_gray(Image.from_array(np.zeros((2, 2, 5), np.uint8)))


def test_stack_slices_builds_a_volume_in_order(tmp_path: Path) -> None:
    slices = [
        Image.from_array(np.full((3, 4, 3), k, np.uint8), spacing=(0.5, 0.6), path=tmp_path / f"s_{k}.tif")
        for k in (1, 2, 3)
    ]
    volume = stack_slices(slices, slice_spacing=2.0)
    assert volume.array.shape == (3, 3, 4, 3) and volume.array[:, 0, 0, 0].tolist() == [1, 2, 3]
    assert volume.spacing == (0.5, 0.6, 2.0) and volume.origin == (0.0, 0.0, 0.0)
    assert volume.direction == tuple(np.eye(3).ravel()) and volume.path == tmp_path
    assert volume.metadata["slices"] == [str(s.path) for s in slices]


def test_stack_slices_refuses_mismatched_slices(tmp_path: Path) -> None:
    a = Image.from_array(np.zeros((3, 4, 1), np.uint8), path=tmp_path / "a.png")
    b = Image.from_array(np.zeros((3, 5, 1), np.uint8), path=tmp_path / "b.png")
    with pytest.raises(TumorscopeError, match="differs from") as info:
        stack_slices([a, b])
    assert info.value.path == tmp_path / "b.png"
    with pytest.raises(ValueError):
        stack_slices([])
