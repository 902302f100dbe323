"""Raster images: PNG, JPEG and BMP through Pillow, TIFF through tifffile.

Pixels keep their dtype (uint8, uint16...) and come channels-last. 1-bit images become uint8
0/255, palette images RGB (RGBA when the palette has transparency), CMYK/YCbCr RGB. A multi-page
TIFF is a volume. Spacing is 1.0 unless an ImageJ TIFF states a physical unit (DPI is ignored).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image as PILImage

from tumorscope.atomic import atomic_path
from tumorscope.errors import TumorscopeError
from tumorscope.io.checks import check_image
from tumorscope.io.formats import PILLOW, TIFF, check_file, decoding, image_format, suffix
from tumorscope.io.image import Image
from tumorscope.io.tiff_codecs import install as _install_bounded_codecs
from tumorscope.io.tiff_ifd import check_ifd_chain
from tumorscope.limits import check_declared_size

_install_bounded_codecs()

# Pillow mode -> (mode to convert to, or None to keep; channels; dtype of the array we return).
_PILLOW_MODES: dict[str, tuple[str | None, int, str]] = {
    "1": ("L", 1, "uint8"),
    "L": (None, 1, "uint8"),
    "LA": (None, 2, "uint8"),
    "La": ("LA", 2, "uint8"),
    "P": ("RGB", 3, "uint8"),
    "PA": ("RGBA", 4, "uint8"),
    "RGB": (None, 3, "uint8"),
    "RGBX": ("RGB", 3, "uint8"),
    "RGBA": (None, 4, "uint8"),
    "RGBa": ("RGBA", 4, "uint8"),
    "CMYK": ("RGB", 3, "uint8"),
    "YCbCr": ("RGB", 3, "uint8"),
    "HSV": ("RGB", 3, "uint8"),
    "I;16": (None, 1, "uint16"),
    "I;16L": (None, 1, "uint16"),
    "I;16B": (None, 1, "uint16"),
    "I;16N": (None, 1, "uint16"),
    "I": (None, 1, "int32"),
    "F": (None, 1, "float32"),
}
_KIND = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
# Physical units an ImageJ TIFF may state, in millimetres (ITK spacing is in mm).
_MM_PER_UNIT = {"mm": 1.0, "cm": 10.0, "um": 1e-3, "µm": 1e-3, "\\u00b5m": 1e-3, "micron": 1e-3, "nm": 1e-6}


def read_raster(path: str | Path) -> Image:
    """Read a PNG, JPEG, BMP or TIFF file into an Image (see the module docstring)."""
    p = check_file(path)
    return _read_tiff(p) if _raster_format(p) == TIFF else _read_pillow(p)


def probe_raster(path: str | Path) -> dict[str, Any]:
    """Shape and dtype ``read_raster`` would return, from the file header only.

    Keys: ``shape`` (channels-last), ``dtype`` (numpy name), ``mode`` (Pillow mode or TIFF
    photometric), ``format``.
    """
    p = check_file(path)
    if _raster_format(p) == TIFF:
        check_ifd_chain(p)
        with decoding(p, "TIFF"), tifffile.TiffFile(p) as tif:
            series, page, mode = _tiff_series(tif, p)
            shape, axes, dtype = series.shape, series.axes, series.dtype
            palette = _colormap(page, p) is not None
        order, add_channel = _channels_last_order(axes, shape, p)
        out_shape = tuple(int(shape[i]) for i in order) + ((3,) if palette else (1,) if add_channel else ())
        out_dtype = "uint8" if palette or dtype == np.bool_ else str(np.dtype(dtype).newbyteorder("="))
        return {"shape": out_shape, "dtype": out_dtype, "mode": mode, "format": "TIFF"}
    with decoding(p, _KIND[suffix(p)]), _open_pillow(p) as im:
        _, channels, out_dtype = _pillow_layout(im, p)
        check_declared_size((im.height, im.width, channels), np.dtype(out_dtype).itemsize, p, _KIND[suffix(p)])
        return {
            "shape": (im.height, im.width, channels),
            "dtype": out_dtype,
            "mode": im.mode,
            "format": im.format,
        }


def write_png(image: Image, path: str | Path) -> Path:
    """Write a 2-D uint8 (gray, gray+alpha, RGB, RGBA) or uint16 gray image as PNG, atomically."""
    target = Path(path)
    if image.spatial_ndim != 2:
        raise TumorscopeError("PNG holds 2-D images only; write a 3-D image as .nii or .nii.gz", target)
    array = image.array
    if not (array.dtype == np.uint8 or (array.dtype == np.uint16 and image.n_channels == 1)):
        raise TumorscopeError(
            f"PNG cannot hold {array.dtype} pixels with {image.n_channels} channel(s): "
            "use uint8 (1-4 channels) or uint16 gray, or write .nii.gz",
            target,
        )
    pixels = np.ascontiguousarray(
        array[..., 0] if image.n_channels == 1 else array, dtype=array.dtype.newbyteorder("=")
    )
    with atomic_path(target) as tmp:
        PILImage.fromarray(pixels).save(tmp, format="PNG")
    return target


def _raster_format(path: Path) -> str:
    """TIFF or PILLOW; TumorscopeError for any other format."""
    fmt = image_format(path)
    if fmt not in (TIFF, PILLOW):
        raise TumorscopeError(f"not a raster image (PNG, JPEG, BMP, TIFF): {fmt} file", path)
    return fmt


def _open_pillow(path: Path) -> PILImage.Image:
    """Pillow on the file's bytes in memory: a damaged chunk length claiming gigabytes then reads
    what is there, where reading the file would first allocate the claim."""
    try:
        return PILImage.open(io.BytesIO(path.read_bytes()))
    except PILImage.UnidentifiedImageError:
        kind = _KIND[suffix(path)]
        raise TumorscopeError(f"cannot read {kind}: cannot identify image file (damaged, or not a {kind})", path) from None


def _pillow_layout(im: PILImage.Image, path: Path) -> tuple[str | None, int, str]:
    """(mode to convert to or None, channels, dtype) for a Pillow image."""
    if im.mode == "P" and im.has_transparency_data:
        return "RGBA", 4, "uint8"
    if im.mode not in _PILLOW_MODES:
        raise TumorscopeError(f"unsupported pixel mode {im.mode!r}", path)
    return _PILLOW_MODES[im.mode]


def _read_pillow(path: Path) -> Image:
    kind = _KIND[suffix(path)]
    with decoding(path, kind), _open_pillow(path) as im:
        mode, fmt = im.mode, im.format
        target, channels, dtype = _pillow_layout(im, path)
        # 4 bytes a pixel channel: Pillow may decode to a 32-bit mode before the conversion.
        check_declared_size((im.height, im.width, channels), max(4, np.dtype(dtype).itemsize), path, kind)
        pixels = np.array(im.convert(target) if target else im)  # decodes: damaged files fail here
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[:2] != (im.height, im.width):
        raise TumorscopeError(f"cannot read {kind}: decoded {pixels.shape[:2]} pixels, header says {(im.height, im.width)}", path)
    return check_image(Image.from_array(pixels.astype(dtype), metadata={"format": fmt, "mode": mode}, path=path))


def _read_tiff(path: Path) -> Image:
    check_ifd_chain(path)
    with decoding(path, "TIFF"), tifffile.TiffFile(path) as tif:
        series, page, mode = _tiff_series(tif, path)
        colormap, spacing, n_pages = _colormap(page, path), _imagej_spacing(tif), len(tif.pages)
        order, add_channel = _channels_last_order(series.axes, series.shape, path)
        pixels = series.asarray()
        if tuple(pixels.shape) != tuple(series.shape):
            raise TumorscopeError(f"cannot read TIFF: decoded {pixels.shape}, header says {series.shape}", path)
    pixels = pixels.transpose(order)
    if colormap is not None:
        if pixels.dtype.kind not in "ui" or pixels.size and (pixels.min() < 0 or pixels.max() >= colormap.shape[1]):
            raise TumorscopeError(
                f"cannot read TIFF: palette has {colormap.shape[1]} colours but pixels index beyond it", path
            )
        pixels = np.moveaxis(colormap[:, pixels] >> 8, 0, -1).astype(np.uint8)
    elif add_channel:
        pixels = pixels[..., None]
    if pixels.dtype == np.bool_:
        pixels = pixels.astype(np.uint8) * 255
    pixels = pixels.astype(pixels.dtype.newbyteorder("="), copy=False)
    dim = pixels.ndim - 1
    image = Image.from_array(
        pixels,
        spacing=spacing[:dim] if spacing else None,
        metadata={"format": "TIFF", "mode": mode, "pages": n_pages},
        path=path,
    )
    return check_image(image)


def _tiff_series(tif: tifffile.TiffFile, path: Path) -> tuple[Any, tifffile.TiffPage, str]:
    """(first series, its key page, photometric name) after the header checks (call inside ``decoding``).

    Unknown photometric or compression values and sizes over the limits are refused before any
    strip or tile is decompressed.
    """
    if not tif.series:
        raise TumorscopeError("cannot read TIFF: no image in it", path)
    series = tif.series[0]
    page = series.keyframe
    try:
        mode = tifffile.PHOTOMETRIC(page.photometric).name
    except ValueError:
        raise TumorscopeError(f"cannot read TIFF: unknown photometric interpretation {page.photometric}", path) from None
    try:
        tifffile.COMPRESSION(page.compression)
    except ValueError:
        raise TumorscopeError(f"cannot read TIFF: unknown compression {page.compression}", path) from None
    palette = page.photometric == tifffile.PHOTOMETRIC.PALETTE
    itemsize = np.dtype(series.dtype).itemsize
    check_declared_size(tuple(series.shape) + ((3,) if palette else ()), max(itemsize, 1), path, "TIFF image")
    _check_strips(series, path)
    return series, page, mode


def _check_strips(series: Any, path: Path) -> None:
    """Every strip/tile must lie inside the file, and raw pages must store all their pixels.

    A damaged StripByteCounts claiming gigabytes would otherwise be read (and allocated) as such,
    and a raw page with too few bytes decoded with zeros in place of the missing pixels.
    """
    size = path.stat().st_size
    key = series.keyframe
    needed = int(np.prod(key.shape)) * np.dtype(key.dtype).itemsize if key.dtype is not None else 0
    raw = key.compression == 1 and key.bitspersample % 8 == 0
    for page in series.pages:
        if page is None:
            continue
        offsets, counts = page.dataoffsets, page.databytecounts
        for offset, count in zip(offsets, counts):
            if count and (offset < 0 or offset + count > size):
                raise TumorscopeError(
                    f"cannot read TIFF: a strip of {count} bytes at offset {offset} runs past the end "
                    f"of the {size}-byte file (truncated or damaged)",
                    path,
                )
        if len(offsets) != len(counts):
            raise TumorscopeError("cannot read TIFF: strip offsets and byte counts differ in number", path)
        if raw and sum(counts) < needed:
            raise TumorscopeError(f"cannot read TIFF: page stores {sum(counts)} bytes of its {needed} (truncated)", path)


def _channels_last_order(axes: str, shape: tuple[int, ...], path: Path) -> tuple[list[int], bool]:
    """Axis permutation putting a TIFF series channels-last, and whether a channel axis must be added.

    tifffile names axes with letters: Y, X in-plane, S or C for channels, any one other letter
    (Z, I, Q, T...) for the slice axis of a volume.
    """
    channel = [i for i, a in enumerate(axes) if a in "SC"]
    other = [i for i, a in enumerate(axes) if a not in "SC"]
    if len(channel) > 1 or len(other) not in (2, 3) or axes[other[-2]] + axes[other[-1]] != "YX":
        raise TumorscopeError(f"unsupported TIFF layout: axes {axes!r}, shape {tuple(shape)}", path)
    return other + channel, not channel


def _colormap(page: tifffile.TiffPage, path: Path) -> np.ndarray | None:
    """The 16-bit (3, N) colour map of a palette TIFF page, None for other pages."""
    if page.photometric != tifffile.PHOTOMETRIC.PALETTE:
        return None
    colormap = page.colormap
    if colormap is None or colormap.ndim != 2 or colormap.shape[0] != 3 or colormap.shape[1] == 0:
        shape = None if colormap is None else colormap.shape
        raise TumorscopeError(f"cannot read TIFF: palette image with a bad colour map (shape {shape})", path)
    return np.asarray(colormap, dtype=np.uint16)


def _imagej_spacing(tif: tifffile.TiffFile) -> tuple[float, float, float] | None:
    """(x, y, z) spacing in mm when an ImageJ TIFF states its unit; None otherwise."""
    meta = tif.imagej_metadata or {}
    mm = _MM_PER_UNIT.get(str(meta.get("unit", "")).lower())
    tags = tif.pages.first.tags
    if mm is None or "XResolution" not in tags or "YResolution" not in tags:
        return None
    (xn, xd), (yn, yd) = tags["XResolution"].value, tags["YResolution"].value
    if not (xn and yn):
        return None
    return xd / xn * mm, yd / yn * mm, float(meta.get("spacing", 1.0)) * mm
