"""The viewer's volumes: a segmentation's input, AI mask and heatmap as NIfTI files in ONE voxel grid, and
corrected masks drawn in that grid mapped back to the prediction's (N, Y, X) geometry.

The grid: a (N, Y, X) array ``a[n, y, x]`` is the NIfTI voxel ``(i, j, k) = (x, y, n)`` (tumorscope's NIfTI
writer reverses the axes; its reader reverses them back), so ``k`` is the slice index.

* NIfTI and DICOM volumes keep their real intensities and geometry: the image is written with the input
  volume's own geometry, the mask is predict's ``mask.nii.gz`` (written with that same geometry by
  :func:`tumorscope.io.write_mask`), so both have the same affine bit for bit.
* 2-D slice inputs (one image, a zipped slice folder or kaggle_3m patient) become a volume of uint8 display
  intensities (predict's display channel, e.g. FLAIR of kaggle_3m slices) with k = slice index, 1 mm voxels
  and identity ITK (LPS) geometry, and the mask is written in that grid.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.io import Image, read_image, write_image, write_mask
from tumorscope.predict.inputs import PredictInput
from tumorscope.predict.overlay import display_channel
from tumorscope.serve.errors import BadRequest, NotFound

FOLDER = "viewer"
IMAGE = f"{FOLDER}/image.nii.gz"
SLICE_MASK = f"{FOLDER}/mask.nii.gz"
HEATMAP = f"{FOLDER}/heatmap.nii.gz"
VOLUME_MASK = "mask.nii.gz"  # predict's own mask of a volume input is already in the grid
AFFINE_TOLERANCE_MM = 1e-3


def grid_image(inp: PredictInput) -> Image:
    """The input as the viewer shows it: one channel, with the grid's geometry."""
    pixels = inp.slices[..., :3] if inp.slices.shape[-1] == 4 else inp.slices  # RGBA: alpha is no intensity
    shown = display_channel(pixels)
    if shown.ndim == pixels.ndim:  # not a 3-channel slice: its first channel
        shown = shown[..., 0]
    if inp.family == "volume" and inp.volume is not None:
        return inp.volume.with_array(shown[..., None])
    return Image.from_array(_as_uint8(shown)[..., None])


def _as_uint8(a: np.ndarray) -> np.ndarray:
    """uint8 as it is; other types stretched linearly from their minimum to their maximum."""
    if a.dtype == np.uint8:
        return a
    a = a.astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    return np.round((a - lo) / max(hi - lo, 1e-12) * 255).astype(np.uint8)


def write_viewer(folder: Path, inp: PredictInput, mask: np.ndarray, heat: np.ndarray | None = None,
                 method: str | None = None, heat_slices: list[int] | None = None) -> dict[str, Any]:
    """Write the viewer volumes into a segmentation's result ``folder`` (predict has written its mask files);
    returns the summary's ``viewer`` field naming them."""
    grid = grid_image(inp)
    (folder / FOLDER).mkdir()
    write_image(grid, folder / IMAGE)
    if inp.family == "volume" and inp.volume is not None:
        mask_name = VOLUME_MASK
    else:
        write_mask(mask, grid, folder / SLICE_MASK)
        mask_name = SLICE_MASK
    names: dict[str, Any] = {"image": IMAGE, "mask": mask_name, "heatmap": None}
    if heat is not None:
        write_image(grid.with_array(heat.astype(np.float32)[..., None]), folder / HEATMAP)
        names.update(heatmap=HEATMAP, heatmap_method=method, heatmap_slices=heat_slices)
    return {"viewer": names}


def viewer_name(result: dict[str, Any] | None, which: str) -> str:
    """The result file of the viewer's ``image``, ``mask`` or ``heatmap``; NotFound when there is none."""
    names = (result or {}).get("viewer")
    if not names:
        raise NotFound("this prediction has no viewer volumes (a classification, or predicted before the viewer)")
    if not names.get(which):
        raise NotFound(f"this prediction has no {which} volume (submit it with explain=<method> for a heatmap)")
    return str(names[which])


def grid_affine(image_file: Path) -> np.ndarray:
    """The voxel-to-world affine of a viewer NIfTI (read from the header only)."""
    import nibabel as nib

    image: Any = nib.load(image_file)  # a Nifti1Image: the viewer's own file
    return np.asarray(image.affine)


def read_correction(path: Path, shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """A corrected mask sent as NIfTI in the viewer's grid (``affine``) -> (N, Y, X) bool, nonzero = tumor.
    BadRequest for an unreadable file, another shape or another affine than the grid's."""
    from tumorscope.errors import TumorscopeError
    from tumorscope.io.nifti_header import checked_header

    try:
        img = read_image(path)
        sent = np.asarray(checked_header(path).get_best_affine())
    except TumorscopeError as exc:
        raise BadRequest(f"mask: {exc.problem}") from None
    if img.n_channels != 1:
        raise BadRequest(f"mask: {img.n_channels} values per voxel; a mask has one")
    arr = img.array[..., 0]
    arr = arr[None] if arr.ndim == 2 else arr
    grid_shape = tuple(shape[::-1])  # (i, j, k) as the NIfTI header says it
    if arr.shape != tuple(shape):
        raise BadRequest(f"mask: NIfTI of shape {arr.shape[::-1]} (i, j, k), the viewer's image.nii.gz is "
                         f"{grid_shape}: draw the corrected mask in the viewer's voxel grid")
    if not np.allclose(sent, affine, rtol=0, atol=AFFINE_TOLERANCE_MM):
        raise BadRequest("mask: its affine differs from the viewer's image.nii.gz: draw the corrected mask in the "
                         "viewer's voxel grid")
    return arr != 0


def mask_in_grid(mask: np.ndarray, image_file: Path) -> bytes:
    """A (N, Y, X) mask as .nii.gz bytes (uint8 0/1) with the header geometry of the viewer NIfTI
    ``image_file`` (only its data type changes), so the two share the affine exactly."""
    import nibabel as nib

    ref: Any = nib.load(image_file)
    header = ref.header.copy()
    header.set_data_dtype(np.uint8)
    data = np.ascontiguousarray(np.asarray(mask, dtype=np.uint8).transpose(2, 1, 0))
    out = nib.Nifti1Image(data, ref.affine, header)
    out.header.set_slope_inter(1, 0)
    return gzip.compress(out.to_bytes(), compresslevel=1, mtime=0)


def read_mask_file(path: Path) -> np.ndarray:
    """A stored mask (PNG/TIFF/BMP/NIfTI) as (N, Y, X) bool, nonzero = tumor."""
    arr = np.asarray(read_image(path).array)[..., 0]
    return (arr[None] if arr.ndim == 2 else arr) != 0
