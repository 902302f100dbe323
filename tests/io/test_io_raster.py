"""PNG / JPEG / BMP / TIFF reading: modes, dtypes, channels, stacks, header probes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from tumorscope.io import probe_image, read_image

RNG = np.random.default_rng(0)
GRAY = RNG.integers(0, 256, (6, 7), dtype=np.uint8)
RGB = RNG.integers(0, 256, (6, 7, 3), dtype=np.uint8)
RGBA = RNG.integers(0, 256, (6, 7, 4), dtype=np.uint8)
LA = RNG.integers(0, 256, (6, 7, 2), dtype=np.uint8)
BITS = GRAY > 128
U16 = RNG.integers(0, 65536, (6, 7), dtype=np.uint16)
STACK = RNG.integers(0, 256, (4, 6, 7), dtype=np.uint8)
STACK_RGB = RNG.integers(0, 256, (4, 6, 7, 3), dtype=np.uint8)
PALETTE = [0, 0, 0, 255, 0, 0, 0, 255, 0]  # black, red, green
INDICES = RNG.integers(0, 3, (6, 7), dtype=np.uint8)


def _pillow(array: np.ndarray, **save: Any) -> Callable[[Path], None]:
    return lambda p: PILImage.fromarray(array).save(p, **save)


def _palette(transparent: bool) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        im = PILImage.fromarray(INDICES, mode="P")
        im.putpalette(PALETTE)
        if transparent:
            im.save(p, transparency=0)
        else:
            im.save(p)

    return write


def _tiff(array: np.ndarray, **kw: Any) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        tifffile.imwrite(p, array, **kw)

    return write


_COLORS = np.array(PALETTE, dtype=np.uint8).reshape(-1, 3)
# file name -> (writer, the exact array read_image must return)
LOSSLESS: dict[str, tuple[Callable[[Path], None], np.ndarray]] = {
    "gray.png": (_pillow(GRAY), GRAY[..., None]),
    "rgb.png": (_pillow(RGB), RGB),
    "rgba.png": (_pillow(RGBA), RGBA),
    "gray_alpha.png": (_pillow(LA), LA),
    "bits.png": (_pillow(BITS), (BITS * 255).astype(np.uint8)[..., None]),
    "u16.png": (_pillow(U16), U16[..., None]),
    "palette.png": (_palette(False), _COLORS[INDICES]),
    "palette_transparent.png": (
        _palette(True),
        np.dstack([_COLORS[INDICES], np.where(INDICES == 0, 0, 255).astype(np.uint8)]),
    ),
    "rgb_dpi.png": (_pillow(RGB, dpi=(300, 300)), RGB),
    "rgb.bmp": (_pillow(RGB), RGB),
    "rgb_deflate.tif": (_tiff(RGB, photometric="rgb", compression="deflate", predictor=True), RGB),
    "u16.tiff": (_tiff(U16), U16[..., None]),
    "bits.tif": (_pillow(BITS), (BITS * 255).astype(np.uint8)[..., None]),
    "palette.tif": (_palette(False), _COLORS[INDICES]),
    "stack.tif": (_tiff(STACK, photometric="minisblack"), STACK[..., None]),
    "stack_rgb.tif": (_tiff(STACK_RGB, photometric="rgb"), STACK_RGB),
}


@pytest.mark.parametrize("name", sorted(LOSSLESS))
def test_lossless_formats_keep_pixels_dtype_and_channels(tmp_path: Path, name: str) -> None:
    write, expected = LOSSLESS[name]
    path = tmp_path / name
    write(path)
    image = read_image(path)
    assert image.array.dtype == expected.dtype
    np.testing.assert_array_equal(image.array, expected)
    assert image.spacing == (1.0,) * image.spatial_ndim  # DPI is not spacing
    assert image.path == path
    probe = probe_image(path)
    assert probe["shape"] == image.array.shape and probe["dtype"] == str(image.array.dtype)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_jpeg_gray_and_rgb(tmp_path: Path, mode: str) -> None:
    ramp = np.tile(np.linspace(0, 255, 20).astype(np.uint8), (16, 1))
    smooth = ramp if mode == "L" else np.dstack([ramp, ramp[:, ::-1], np.full_like(ramp, 128)])
    path = tmp_path / "x.jpeg"
    PILImage.fromarray(smooth).save(path, quality=95)
    image = read_image(path)
    assert image.array.shape == (16, 20, 1 if mode == "L" else 3)
    assert image.array.dtype == np.uint8 and image.metadata["mode"] == mode
    assert np.abs(image.array.astype(int) - smooth.reshape(image.array.shape)).mean() < 3
    assert probe_image(path)["shape"] == image.array.shape


def test_multipage_tiff_without_shape_metadata_is_a_volume(tmp_path: Path) -> None:
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tif:
        for page in STACK:
            tif.write(page, metadata=None)
    image = read_image(path)
    assert image.spatial_ndim == 3 and image.metadata["pages"] == 4
    np.testing.assert_array_equal(image.array[..., 0], STACK)
    assert probe_image(path)["shape"] == (4, 6, 7, 1)


def test_imagej_tiff_unit_gives_spacing_in_mm(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    tifffile.imwrite(
        path,
        STACK,
        imagej=True,
        resolution=(2.0, 4.0),
        metadata={"axes": "ZYX", "unit": "um", "spacing": 3.0},
    )
    image = read_image(path)
    np.testing.assert_allclose(image.spacing, (0.5e-3, 0.25e-3, 3e-3))


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    PILImage.fromarray(RGB).convert("CMYK").save(path, quality=95)
    image = read_image(path)
    assert image.array.shape == (6, 7, 3) and image.metadata["mode"] == "CMYK"
