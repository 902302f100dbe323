"""Masks: explicit binarisation of every mode, OR-merging, size checks, emptiness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from tumorscope.errors import TumorscopeError
from tumorscope.io import binarize, mask_is_empty, read_mask

SHAPE = (6, 7)
TRUTH = np.zeros(SHAPE, bool)
TRUTH[1:4, 2:5] = True


def _save(path: Path, array: np.ndarray) -> Path:
    PILImage.fromarray(array).save(path)
    return path


def test_binarize_uses_colour_and_ignores_opaque_alpha() -> None:
    rgba = np.zeros((*SHAPE, 4), np.uint8)
    rgba[..., 3] = 255  # fully opaque everywhere, like BUSI's RGBA mask
    rgba[TRUTH, 0] = 255
    np.testing.assert_array_equal(binarize(rgba), TRUTH)
    rgba[..., :3] = 255
    rgba[..., 3] = np.where(TRUTH, 255, 0)  # white everywhere, transparent outside the lesion
    np.testing.assert_array_equal(binarize(rgba), TRUTH)


@pytest.mark.parametrize(
    "name, array",
    [
        ("bits.png", TRUTH),
        ("gray.png", TRUTH.astype(np.uint8) * 255),
        ("rgb.png", np.dstack([TRUTH * 255, np.zeros(SHAPE), np.zeros(SHAPE)]).astype(np.uint8)),
        ("rgba.png", np.dstack([TRUTH * 200] * 3 + [np.full(SHAPE, 255)]).astype(np.uint8)),
        ("u16.png", TRUTH.astype(np.uint16) * 1),
        ("gray.tif", TRUTH.astype(np.uint8) * 255),
    ],
)
def test_every_mask_mode_binarises_to_the_same_mask(tmp_path: Path, name: str, array: np.ndarray) -> None:
    path = tmp_path / name
    if name.endswith(".tif"):
        tifffile.imwrite(path, array)
    else:
        _save(path, array)
    mask = read_mask(path, shape=SHAPE)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, TRUTH)
    assert not mask_is_empty(path)


def test_several_masks_merge_with_or(tmp_path: Path) -> None:
    second = np.zeros(SHAPE, bool)
    second[5, 0] = True
    a = _save(tmp_path / "a_mask.png", TRUTH)
    b = _save(tmp_path / "a_mask_1.png", second.astype(np.uint8) * 255)
    np.testing.assert_array_equal(read_mask([a, b], shape=SHAPE), TRUTH | second)


def test_mask_of_another_size_names_the_file_and_both_sizes(tmp_path: Path) -> None:
    good = _save(tmp_path / "x_mask.png", TRUTH)
    bad = _save(tmp_path / "x_mask_1.png", np.zeros((9, 11, 4), np.uint8))
    with pytest.raises(TumorscopeError) as info:
        read_mask([good, bad], shape=SHAPE)
    assert info.value.path == bad
    assert "mask size 11x9 (width x height) does not match the image size 7x6" in str(info.value)
    with pytest.raises(TumorscopeError, match="does not match 7x6 .* of x_mask.png"):
        read_mask([good, bad])


def test_empty_masks(tmp_path: Path) -> None:
    empty = _save(tmp_path / "empty.png", np.zeros(SHAPE, bool))
    assert mask_is_empty(empty)
    assert not read_mask(empty).any()
    np.testing.assert_array_equal(read_mask([], shape=(2, 3)), np.zeros((2, 3), bool))
    with pytest.raises(ValueError):
        read_mask([])
