"""Slices of one volume read together: the unit of per-patient segmentation training and evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.io.image import Image
from tumorscope.progress import progress


@dataclass
class SliceStack:
    """The slices of one volume (or one 2-D image), in slice order, with their masks when known."""

    id: str
    patient_id: str | None
    images: np.ndarray  # (N, Y, X, C) raw pixels
    masks: np.ndarray | None  # (N, Y, X) bool
    samples: list[Sample] = field(default_factory=list)
    spacing: tuple[float, ...] = (1.0, 1.0)

    @property
    def n_slices(self) -> int:
        return int(self.images.shape[0])

    def require_masks(self) -> np.ndarray:
        """The masks, or a TumorscopeError naming the volume's first file when it has none."""
        if self.masks is None:
            raise TumorscopeError("needs a mask for every image of this volume (training/evaluation)",
                                  self.samples[0].image if self.samples else self.id)
        return self.masks


def volume_key(sample: Sample) -> str:
    """Which volume a sample belongs to: the layout's volume id, else the patient, else the image itself."""
    return str(sample.extra.get("volume_id") or sample.patient_id or sample.image)


def check_same_geometry(images: Sequence[Image], paths: Sequence[Path]) -> None:
    """Slices of one volume must share size, channels, dtype and pixel spacing; TumorscopeError naming
    the first slice that differs (and the first slice it differs from) otherwise."""
    if not images:
        return
    first, first_path = images[0], paths[0]
    for im, path in zip(images[1:], paths[1:]):
        problem = None
        if im.spatial_ndim != first.spatial_ndim:
            problem = f"is {im.spatial_ndim}-D, {first_path.name} is {first.spatial_ndim}-D"
        elif im.array.shape != first.array.shape:
            problem = f"slice size {_shape(im)} differs from {_shape(first)} of {first_path.name}"
        elif im.array.dtype != first.array.dtype:
            problem = f"pixel type {im.array.dtype} differs from {first.array.dtype} of {first_path.name}"
        elif not np.allclose(im.spacing, first.spacing, rtol=1e-3, atol=1e-6):
            problem = f"pixel spacing {im.spacing} differs from {first.spacing} of {first_path.name}"
        if problem:
            raise TumorscopeError(f"{problem}; the slices of one volume must match", path)


def _shape(im: Image) -> str:
    """``WxH`` (or ``WxHxD``) and channels, as people read image sizes."""
    return "x".join(str(n) for n in reversed(im.spatial_shape)) + f" with {im.n_channels} channel(s)"


def load_stacks(samples: list[Sample], with_masks: bool = True, desc: str = "reading slices") -> list[SliceStack]:
    """Read samples into one SliceStack per volume (slices ordered by slice index)."""
    from tumorscope.io import read_image, read_mask

    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(volume_key(s), []).append(s)
    stacks = []
    for key, group in progress(sorted(groups.items()), desc=desc, total=len(groups)):
        group.sort(key=lambda s: (s.slice_index if s.slice_index is not None else 0, str(s.image)))
        imgs = [read_image(s.image) for s in group]
        check_same_geometry(imgs, [s.image for s in group])
        masks = None
        if with_masks and all(s.masks for s in group):
            masks = np.stack([read_mask(list(s.masks), shape=im.spatial_shape) for s, im in zip(group, imgs)])
        arrays = [im.array for im in imgs]
        stacks.append(
            SliceStack(
                id=key,
                patient_id=group[0].patient_id,
                images=np.stack(arrays),
                masks=masks,
                samples=group,
                spacing=tuple(imgs[0].spacing),
            )
        )
    return stacks
