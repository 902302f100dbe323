"""Cropping an image to the square box around its foreground (the body part, not the black surround).

Brain MRI exports frame the head very differently (the head fills 45-100% of the picture in the Kaggle 4-class
set); cropping to the foreground before resizing gives the network the same scale and more pixels of anatomy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads when a crop runs (classification): the schema reads CROPS without it
    import torch

CROPS = ("none", "foreground")
THRESHOLD = 0.1  # foreground: above this fraction of the intensity range
MIN_FRACTION = 0.02  # a row/column is foreground when this fraction (and 3+) of its pixels are: ignores specks, text
MARGIN = 0.04  # of the box side, added on each side


def foreground_box(x: torch.Tensor) -> tuple[int, int, int, int] | None:
    """(top, left, side, side) of the square box around the foreground of an (N, C, H, W) stack (all slices
    and channels together), or None when nothing stands out from the background."""
    import torch

    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-6:
        return None
    mask = (x > lo + THRESHOLD * (hi - lo)).any(dim=1).any(dim=0)  # (H, W)
    h, w = mask.shape
    rows = torch.nonzero(mask.sum(1) >= max(3, MIN_FRACTION * w))[:, 0]
    cols = torch.nonzero(mask.sum(0) >= max(3, MIN_FRACTION * h))[:, 0]
    if not len(rows) or not len(cols):
        return None
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    side = round(max(y1 - y0, x1 - x0) * (1 + 2 * MARGIN))
    return (y0 + y1 - side) // 2, (x0 + x1 - side) // 2, side, side


def crop_foreground(x: torch.Tensor) -> torch.Tensor:
    """The square foreground box of an (N, C, H, W) stack; parts of the box outside the image are filled with
    the image minimum (the background). Unchanged when no foreground is found."""
    box = foreground_box(x)
    if box is None:
        return x
    top, left, bh, bw = box
    h, w = x.shape[-2:]
    pad = (max(0, -left), max(0, left + bw - w), max(0, -top), max(0, top + bh - h))
    if any(pad):
        import torch.nn.functional as F

        x = F.pad(x, pad, value=float(x.min()))
        top, left = top + pad[2], left + pad[0]
    return x[..., top:top + bh, left:left + bw]


def uncrop(maps: torch.Tensor, box: tuple[int, int, int, int] | None, shape: tuple[int, int]) -> torch.Tensor:
    """(N, h, w) maps on the network grid -> the (Y, X) input grid: resized onto ``box`` (zeros outside it),
    or onto the whole image when there was no crop (``box`` None)."""
    import torch
    import torch.nn.functional as F

    top, left, bh, bw = box if box is not None else (0, 0, *shape)
    t = F.interpolate(maps[:, None].float(), size=(bh, bw), mode="bilinear", align_corners=False)[:, 0]
    out = torch.zeros((len(maps), *shape), dtype=t.dtype)
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(shape[0], top + bh), min(shape[1], left + bw)
    out[:, y0:y1, x0:x1] = t[:, y0 - top:y1 - top, x0 - left:x1 - left]
    return out
