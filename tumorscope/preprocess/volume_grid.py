"""Grid operations of the 3-D multi-channel path (nnU-Net's preprocessing, kept small): crop a volume to the
box of its nonzero voxels, resample to a target spacing, z-score each channel over the nonzero voxels."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

Box = tuple[slice, slice, slice]


def nonzero_box(images: np.ndarray, margin: int = 2) -> Box:
    """The (Z, Y, X) box of voxels nonzero in any channel of ``images`` (C, Z, Y, X), widened by ``margin``;
    the whole grid when every voxel is zero."""
    any_nonzero = np.any(images != 0, axis=0)
    if not any_nonzero.any():
        return tuple(slice(0, s) for s in any_nonzero.shape)  # type: ignore[return-value]
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(any_nonzero.any(axis=other))
        box.append(slice(max(0, int(idx[0]) - margin), min(any_nonzero.shape[axis], int(idx[-1]) + 1 + margin)))
    return (box[0], box[1], box[2])


def target_shape(shape: tuple[int, ...], spacing: tuple[float, ...], target: tuple[float, ...]) -> tuple[int, ...]:
    """The shape covering the same extent at ``target`` spacing (at least 1 voxel per axis)."""
    return tuple(max(1, int(round(s * sp / t))) for s, sp, t in zip(shape, spacing, target))


def resize_volume(x: torch.Tensor, shape: tuple[int, ...], mode: str = "trilinear") -> torch.Tensor:
    """(C, Z, Y, X) -> (C, *shape) by ``mode`` interpolation (``nearest`` for labels); same shape: unchanged."""
    if tuple(x.shape[1:]) == tuple(shape):
        return x
    kwargs = {"align_corners": False} if mode == "trilinear" else {}
    return F.interpolate(x[None].float(), size=tuple(shape), mode=mode, **kwargs)[0]


def zscore_nonzero(images: np.ndarray) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Each channel of (C, Z, Y, X) minus its mean over the voxels nonzero in any channel (the brain), divided by
    their standard deviation; voxels outside stay 0 (nnU-Net's MRI normalisation). Returns float32 and the
    per-channel (mean, std)."""
    brain = np.any(images != 0, axis=0)
    out = np.zeros(images.shape, dtype=np.float32)
    stats = []
    for c in range(images.shape[0]):
        values = images[c][brain].astype(np.float64)
        mean, std = (float(values.mean()), float(values.std())) if values.size else (0.0, 1.0)
        std = std if std > 1e-8 else 1.0
        out[c][brain] = ((values - mean) / std).astype(np.float32)
        stats.append((mean, std))
    return out, stats
