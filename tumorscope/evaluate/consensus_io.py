"""Reading readers' mask files for a consensus and writing its folder: the consensus mask (PNG for 2-D
masks, NIfTI otherwise), the STAPLE probability map (float NIfTI) and report.json, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tumorscope.atomic import atomic_path
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.consensus import ConsensusReport, StapleResult
from tumorscope.io import Image, read_image
from tumorscope.io.formats import suffix

MASK_NAME = "consensus_mask"
PROBABILITY_NAME = "probability_map.nii.gz"
REPORT_NAME = "report.json"
_GEOMETRY_TOLERANCE = 1e-4


def mask_pixels(image: Image) -> np.ndarray:
    """A mask image's pixels without the channel axis: a gray mask's one channel, or the first channel of an
    RGB(A) one (what the service checked when it accepted a corrected mask)."""
    arr = image.array
    if image.n_channels not in (1, 3, 4):
        raise TumorscopeError(f"a mask has 1, 3 or 4 channels, this one {image.n_channels}", image.path)
    return arr[..., 0]


def same_geometry(a: Image, b: Image) -> bool:
    """Same spatial shape, spacing, origin and direction (to a small tolerance)."""
    return a.spatial_shape == b.spatial_shape and all(
        np.allclose(x, y, atol=_GEOMETRY_TOLERANCE) for x, y in
        ((a.spacing, b.spacing), (a.origin, b.origin), (a.direction, b.direction)))


def read_reader_masks(paths: Sequence[str | Path]) -> tuple[list[np.ndarray], Image]:
    """The readers' masks (any format :func:`~tumorscope.io.read_image` reads) and the first one's image,
    whose geometry the outputs take. Every mask must have the first one's shape and geometry."""
    if len(paths) < 2:
        raise TumorscopeError(f"consensus needs the masks of at least 2 readers, got {len(paths)}")
    images = [read_image(p) for p in paths]
    first = images[0]
    for p, img in zip(paths[1:], images[1:]):
        if img.spatial_shape != first.spatial_shape:
            raise TumorscopeError(f"mask shape {img.spatial_shape} differs from {Path(paths[0]).name}'s "
                                  f"{first.spatial_shape}", p)
        if not same_geometry(img, first):
            raise TumorscopeError(f"mask geometry (spacing {img.spacing}, origin {img.origin}) differs from "
                                  f"{Path(paths[0]).name}'s (spacing {first.spacing}, origin {first.origin})", p)
    return [mask_pixels(img) for img in images], first


def mask_suffix(like: Image, inputs: Sequence[str | Path] = ()) -> str:
    """``.png`` for 2-D masks read from raster files (or made in memory), ``.nii.gz`` otherwise."""
    nifti = any(suffix(p) in (".nii", ".nii.gz") for p in inputs)
    return ".png" if like.spatial_ndim == 2 and not nifti else ".nii.gz"


def write_consensus_files(folder: Path, report: ConsensusReport, result: StapleResult, like: Image,
                          mask_ext: str) -> None:
    """The consensus mask, probability map and report.json into an existing ``folder``."""
    from tumorscope.io import write_image, write_mask

    geometry = Image(like.array[..., :1], like.spacing, like.origin, like.direction)
    if geometry.spatial_shape != result.mask.shape:
        raise ValueError(f"consensus shape {result.mask.shape} differs from the image's {geometry.spatial_shape}")
    mask_name = MASK_NAME + mask_ext
    write_mask(result.mask, geometry, folder / mask_name)
    write_image(geometry.with_array(result.probability.astype(np.float32)[..., None]), folder / PROBABILITY_NAME)
    report.extra["files"] = [mask_name, PROBABILITY_NAME, REPORT_NAME]
    (folder / REPORT_NAME).write_text(report.to_json(), encoding="utf-8")


def write_consensus(out_dir: str | Path, report: ConsensusReport, result: StapleResult, like: Image,
                    mask_ext: str) -> Path:
    """``out_dir`` with the consensus mask, probability map and report.json, written atomically."""
    out = Path(out_dir)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        write_consensus_files(tmp, report, result, like, mask_ext)
    return out
