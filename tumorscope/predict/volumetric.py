"""3-D segmentation inference: a whole volume through a 3-D network with MONAI sliding-window inference.

A volume is read as a SliceStack (slices of one patient, or one NIfTI file per case); :func:`as_volume`
turns either into ``(Z, Y, X, C)`` pixels and ``(Z, Y, X)`` masks, normalised per volume by the bundle's
Preprocessor (the same code as the 2-D path, without the 2-D resize: 3-D models run at native resolution).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tumorscope.data.volumes import SliceStack
from tumorscope.errors import TumorscopeError
from tumorscope.models.precision import autocast
from tumorscope.preprocess.pipeline import Preprocessor

DIVISOR = 16  # every patch edge is a multiple of 2**4: the U-Net downsamples four times by 2
# Smallest patch (Z, Y, X): the U-Net's bottleneck (patch / 16) needs > 1 voxel for instance norm, and a
# bottleneck only 2 voxels deep gets garbage conv3d weight gradients under CPU bf16 autocast (torch 2.13 +
# oneDNN on this AVX512-BF16 CPU: errors of 1e30 or inf against float32, only when the depth axis is 2;
# cf. pytorch/pytorch#163347), so Z starts at 48. tests/train/test_volumetric.py checks the planned bottleneck.
MIN_EDGE = (48, 32, 32)
VOXEL_BUDGET = 64**3  # voxels per patch a CPU trains in reasonable time (nnU-Net targets GPU memory instead)


@dataclass
class SlidingWindow:
    """How a 3-D bundle is run over a volume larger than its training patch (saved in the bundle config)."""

    patch_size: tuple[int, int, int] = (64, 64, 64)  # (Z, Y, X) voxels
    overlap: float = 0.5
    mode: str = "gaussian"  # blending of overlapping windows
    sw_batch_size: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"patch_size": list(self.patch_size)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SlidingWindow:
        return cls(
            patch_size=tuple(int(v) for v in d["patch_size"]),  # type: ignore[arg-type]
            overlap=float(d.get("overlap", 0.5)),
            mode=str(d.get("mode", "gaussian")),
            sw_batch_size=int(d.get("sw_batch_size", 2)),
        )

    @classmethod
    def for_bundle(cls, config: dict[str, Any], volume_shape: tuple[int, ...] | None = None) -> SlidingWindow:
        """The bundle's saved window; bundles without one get a patch planned from the volume itself."""
        if "volumetric" in config:
            return cls.from_dict(config["volumetric"])
        if volume_shape is None:
            return cls()
        return cls(patch_size=plan_patch(volume_shape, (1.0, 1.0, 1.0)))


@dataclass
class Plan:
    """A tiny nnU-Net-style plan from the training volumes' fingerprint (median shape and spacing)."""

    median_shape: tuple[int, int, int]
    median_spacing: tuple[float, float, float]  # (Z, Y, X) mm
    patch_size: tuple[int, int, int]
    batch_size: int
    n_volumes: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_patch(
    median_shape: tuple[int, ...], spacing: tuple[float, ...], max_edge: int = 128, budget: int = VOXEL_BUDGET
) -> tuple[int, int, int]:
    """Patch (Z, Y, X): the median shape rounded up to multiples of 16, each edge between ``MIN_EDGE`` and
    ``max_edge``; while the patch holds more than ``budget`` voxels, shrink by 16 the axes covering the most
    millimetres (ties together), so patches stay close to isotropic in physical space, as nnU-Net plans."""
    cap = max_edge // DIVISOR * DIVISOR
    patch = [max(lo, min(cap, -(-int(s) // DIVISOR) * DIVISOR)) for s, lo in zip(median_shape, MIN_EDGE)]
    while np.prod(patch) > budget:
        extent = [patch[i] * spacing[i] if patch[i] > MIN_EDGE[i] else -1.0 for i in range(3)]
        if max(extent) < 0:
            break
        for i in range(3):
            if np.isclose(extent[i], max(extent)):
                patch[i] -= DIVISOR
    return (patch[0], patch[1], patch[2])


def make_plan(volumes: list[SliceStack], max_edge: int, batch_size: int) -> Plan:
    """Fingerprint the (training) volumes and choose patch and batch size."""
    shapes = np.array([v.images.shape[:3] for v in volumes])
    spacings = np.array([zyx_spacing(v) for v in volumes])
    median_shape = tuple(int(s) for s in np.median(shapes, axis=0))
    median_spacing = tuple(float(s) for s in np.median(spacings, axis=0))
    patch = plan_patch(median_shape, median_spacing, max_edge)
    batch = max(1, min(batch_size, 2 * VOXEL_BUDGET // int(np.prod(patch))))
    notes = ["no resampling: volumes are used at their own spacing"]
    if batch < batch_size:
        notes.append(f"batch size lowered from {batch_size} to {batch} to keep a batch within 2 x {VOXEL_BUDGET} voxels")
    return Plan(median_shape, median_spacing, patch, batch, len(volumes), notes)  # type: ignore[arg-type]


def zyx_spacing(stack: SliceStack) -> tuple[float, float, float]:
    """Voxel spacing in numpy order; slices without a slice spacing count 1 mm apart."""
    sp = [float(s) for s in stack.spacing]
    return (sp[2], sp[1], sp[0]) if len(sp) == 3 else (1.0, sp[1], sp[0])


def as_volume(stack: SliceStack) -> SliceStack:
    """The stack as ONE volume: ``images`` (Z, Y, X, C), ``masks`` (Z, Y, X).

    2-D slices of a patient already are that; a volume file (nnU-Net case) read by ``load_stacks`` comes as
    (1, Z, Y, X, C), and its extra channel files (``_0001``...) are read and appended as channels.
    """
    if stack.images.ndim == 4:
        return stack
    if stack.images.ndim != 5 or stack.images.shape[0] != 1:
        raise TumorscopeError(f"expected one volume, got arrays of shape {stack.images.shape}", stack.samples[0].image)
    images = stack.images[0]
    extra: tuple[Path, ...] = tuple(stack.samples[0].extra.get("channels", ())) if stack.samples else ()
    if len(extra) > 1:
        from tumorscope.io import read_image

        parts = [images]
        for f in extra[1:]:
            parts.append(read_image(f).array)
            if parts[-1].shape[:3] != images.shape[:3]:
                raise TumorscopeError(f"shape {parts[-1].shape[:3]} differs from {images.shape[:3]} of {extra[0]}", f)
        images = np.concatenate(parts, axis=-1)
    masks = stack.masks[0] if stack.masks is not None else None
    return replace(stack, images=images, masks=masks)


def volume_tensor(pre: Preprocessor, volume: np.ndarray, path: object = None) -> torch.Tensor:
    """(Z, Y, X, C) raw voxels -> (C, Z, Y, X) float32, normalised over the whole volume."""
    return torch.from_numpy(pre.arrays(volume, path)).permute(1, 0, 2, 3).contiguous()


def is_volumetric(model: nn.Module) -> bool:
    """True for networks made of 3-D convolutions (an exported variant, not an ``nn.Module``, is 2-D)."""
    return isinstance(model, nn.Module) and any(isinstance(m, nn.Conv3d) for m in model.modules())


@torch.no_grad()
def predict_volume(
    model: nn.Module,
    pre: Preprocessor,
    volume: np.ndarray,
    window: SlidingWindow,
    tta: bool = False,
    bf16: bool = True,
    path: object = None,
) -> np.ndarray:
    """(Z, Y, X, C) raw voxels of one volume -> (Z, Y, X) tumor probabilities (float32), via
    ``monai.inferers.sliding_window_inference`` with gaussian-blended overlapping patches."""
    return predict_volume_outputs(model, pre, volume, window, tta=tta, bf16=bf16, path=path)[0]


@torch.no_grad()
def predict_volume_outputs(
    model: nn.Module,
    pre: Preprocessor,
    volume: np.ndarray,
    window: SlidingWindow,
    tta: bool = False,
    bf16: bool = True,
    path: object = None,
) -> np.ndarray:
    """:func:`predict_volume` for every output channel: (K, Z, Y, X) sigmoid probabilities of a network with K
    sigmoid outputs (e.g. the nested BraTS regions WT/TC/ET)."""
    model.eval()
    x = volume_tensor(pre, volume, path)[None]
    logits = sliding_logits(model, x, window, bf16)
    if tta:
        logits = (logits + sliding_logits(model, x.flip(-1), window, bf16).flip(-1)) / 2
    return torch.sigmoid(logits[0]).numpy().astype(np.float32)


def predict_stack(
    model: nn.Module,
    pre: Preprocessor,
    stack: SliceStack,
    window: SlidingWindow | None = None,
    tta: bool = False,
    bf16: bool = True,
) -> tuple[SliceStack, np.ndarray]:
    """One stack as a volume and its (Z, Y, X) probabilities; without ``window`` the patch is planned from
    the volume's own shape."""
    v = as_volume(stack)
    window = window or SlidingWindow.for_bundle({}, v.images.shape[:3])
    path = v.samples[0].image if v.samples else None
    return v, predict_volume(model, pre, v.images, window, tta=tta, bf16=bf16, path=path)


def sliding_logits(model: nn.Module, x: torch.Tensor, window: SlidingWindow, bf16: bool = True) -> torch.Tensor:
    """(B, C, Z, Y, X) normalised input -> (B, K, Z, Y, X) float32 logits (K outputs) over the whole volume."""
    from monai.inferers import sliding_window_inference

    def forward(patch: torch.Tensor) -> torch.Tensor:
        with autocast(bf16):
            return model(patch).float()

    out = sliding_window_inference(
        x, window.patch_size, window.sw_batch_size, forward, overlap=window.overlap, mode=window.mode
    )
    return torch.as_tensor(out).float()
