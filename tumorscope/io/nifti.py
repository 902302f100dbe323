"""NIfTI (.nii, .nii.gz) through nibabel, with geometry converted to the ITK (LPS) convention.

nibabel is used rather than SimpleITK because ITK's NIfTI reader silently turns NaN into 0 and
reads a truncated file without complaint; both must be errors here.

Layouts: a 2-D or 3-D file is one channel; a 4-D file (one modality or time point per volume)
or a 5-D vector file puts its 4th/5th axis in channels. Scaled integer data (scl_slope/scl_inter)
reads as float32. Multi-channel volumes are written 4-D.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from tumorscope.atomic import atomic_path
from tumorscope.errors import TumorscopeError
from tumorscope.io.checks import check_image
from tumorscope.io.formats import check_file, decoding, suffix
from tumorscope.io.image import Image
from tumorscope.io.nifti_header import checked_header, itk_geometry, load_checked

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])  # its own inverse: flip x and y


def read_nifti(path: str | Path) -> Image:
    """Read a NIfTI file; NaN or infinite voxels are a TumorscopeError."""
    p = check_file(path)
    header = checked_header(p)
    sdim, n_channels = _layout(header, p)
    spacing, origin, direction = itk_geometry(header, sdim, p)
    img = load_checked(p, header)
    with decoding(p, "NIfTI"):
        proxy = img.dataobj
        data = np.asarray(proxy.get_unscaled())
        if _is_scaled(proxy):
            data = data.astype(_dtype(proxy)) * proxy.slope + proxy.inter
        data = data.reshape(data.shape[:sdim] + (n_channels,))  # drop the empty 4th axis of vector files
        data = data.astype(data.dtype.newbyteorder("="), copy=False)
    # NIfTI stores x fastest as (X, Y[, Z], C); Image wants ([Z,] Y, X, C).
    array = np.ascontiguousarray(np.moveaxis(data, list(range(sdim)), list(range(sdim))[::-1]))
    return check_image(Image(array, spacing, origin, direction, {"format": "NIfTI"}, p))


def probe_nifti(path: str | Path) -> dict[str, Any]:
    """Shape and dtype ``read_nifti`` would return, from the header only."""
    p = check_file(path)
    header = checked_header(p)
    sdim, n_channels = _layout(header, p)
    itk_geometry(header, sdim, p)
    shape = header.get_data_shape()
    with decoding(p, "NIfTI"):
        slope, inter = header.get_slope_inter()
    scaled = (slope is not None and slope != 1) or (inter is not None and inter != 0)
    dtype = np.dtype(header.get_data_dtype())
    out_dtype = np.dtype(np.float64 if dtype == np.float64 else np.float32) if scaled else dtype
    return {
        "shape": (*shape[:sdim][::-1], n_channels),
        "dtype": str(out_dtype.newbyteorder("=")),
        "mode": f"{len(shape)}-D",
        "format": "NIfTI",
    }


def write_nifti(image: Image, path: str | Path) -> Path:
    """Write ``image`` with its geometry as .nii or .nii.gz (gzip by extension), atomically.

    The affine goes into both qform and sform (code 1, scanner). A 2-D multi-channel image is
    refused: NIfTI has no 2-D multi-channel form that tools agree on.
    """
    target = Path(path)
    if image.spatial_ndim == 2 and image.n_channels > 1:
        raise TumorscopeError("NIfTI cannot hold a 2-D multi-channel image; write .png", target)
    array = image.array
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    elif array.dtype == np.float16:
        array = array.astype(np.float32)
    sdim = image.spatial_ndim
    data = np.moveaxis(array, list(range(sdim)), list(range(sdim))[::-1])
    if image.n_channels == 1:
        data = data[..., 0]
    img = nib.Nifti1Image(data, _affine(image), dtype=data.dtype)  # explicit: nibabel refuses int64 otherwise
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    payload = img.to_bytes()
    if suffix(target) == ".nii.gz":
        payload = gzip.compress(payload, compresslevel=1, mtime=0)
    with atomic_path(target) as tmp:
        tmp.write_bytes(payload)
    return target


def _layout(header: Any, path: Path) -> tuple[int, int]:
    """(spatial dimensions, channels) of a NIfTI image."""
    shape = header.get_data_shape()
    if header.get_data_dtype().names:
        raise TumorscopeError("unsupported NIfTI datatype: RGB/structured voxels", path)
    if len(shape) in (2, 3):
        return len(shape), 1
    if len(shape) == 4:
        return 3, shape[3]
    if len(shape) == 5 and shape[3] == 1:
        return 3, shape[4]
    raise TumorscopeError(f"unsupported NIfTI layout: shape {shape}", path)


def _is_scaled(proxy: Any) -> bool:
    return bool(proxy.slope != 1 or proxy.inter != 0)


def _dtype(proxy: Any) -> np.dtype:
    """Voxel dtype after scaling: on-disk type when unscaled, else float32 (float64 for float64 data)."""
    if not _is_scaled(proxy):
        return np.dtype(proxy.dtype)
    return np.dtype(np.float64 if proxy.dtype == np.float64 else np.float32)


def _affine(image: Image) -> np.ndarray:
    """The NIfTI (RAS) voxel-to-world affine of ``image``; a 2-D image gets a unit z axis."""
    sdim = image.spatial_ndim
    direction, spacing, origin = np.eye(3), np.ones(3), np.zeros(3)
    direction[:sdim, :sdim] = np.reshape(image.direction, (sdim, sdim))
    spacing[:sdim], origin[:sdim] = image.spacing, image.origin
    affine = np.eye(4)
    affine[:3, :3] = _RAS_TO_LPS @ direction @ np.diag(spacing)
    affine[:3, 3] = _RAS_TO_LPS @ origin
    return affine
