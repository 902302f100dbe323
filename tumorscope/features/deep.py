"""Deep features (``tumorscope features --kind deep``): a bundled network's penultimate-layer activations pooled
over the ROI, one row per slice (image) or volume, in the same table layout as the radiomics features.

The penultimate layer is the input of each network's last narrowing layer (:func:`penultimate_layers`; an
ensemble: each member's, the members' vectors side by side). A feature map (N, C, h, w) - a U-Net's last decoder stage - is averaged over the
ROI, the ROI mapped onto the map's grid with area weights (the bundle's own foreground crop and resize); a vector
(N, C) - a classifier's pooled embedding before its linear head - is the image's whatever the ROI. A volume row
averages its slices' pooled vectors weighted by their ROI area (= the mean over every ROI pixel of the volume).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.features.extract import Options, Unit, patient_units, unit_ids

PREFIX = "deep"


def penultimate_layers(model: nn.Module) -> list[nn.Module]:
    """The layer each network of ``model`` (each member of an ensemble, in order) ends with: its last convolution or
    linear layer that narrows its input to fewer channels (a U-Net's last up-convolution, a classifier's head)."""
    members = getattr(model, "members", None)
    nets: list[nn.Module] = list(members) if isinstance(members, nn.ModuleList) else [model]
    found = []
    for net in nets:
        narrowing = [m for m in net.modules() if _width(m, "in") > _width(m, "out") > 0]
        if not narrowing:
            raise TumorscopeError(f"{type(net).__name__} has no convolution or linear layer to take features before")
        found.append(narrowing[-1])
    return found


def _width(m: nn.Module, side: str) -> int:
    return int(getattr(m, f"{side}_channels", 0) or getattr(m, f"{side}_features", 0) or 0)


@torch.no_grad()
def embed(model: nn.Module, x: torch.Tensor, weights: torch.Tensor, batch_size: int = 16) -> np.ndarray:
    """(N, D) features of the network input ``x`` (N, C, H, W): each penultimate activation pooled with the
    ``weights`` (N, H, W) >= 0 on the input grid (a slice without weight gets zeros)."""
    captured: list[torch.Tensor] = []
    hooks = [layer.register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach().float()))
             for layer in penultimate_layers(model)]
    try:
        model.eval()
        out = []
        for i in range(0, len(x), batch_size):
            captured.clear()
            model(x[i : i + batch_size])
            w = weights[i : i + batch_size, None].float()
            out.append(torch.cat([_pool(a, w) for a in captured], dim=1))
    finally:
        for h in hooks:
            h.remove()
    return torch.cat(out).numpy().astype(np.float64)


def _pool(a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(N, C[, h, w]) activations -> (N, C): weighted spatial mean (area weights on the activation's grid)."""
    if a.ndim == 2:
        return a
    a = a.flatten(2) if a.ndim > 4 else a
    grid = F.interpolate(w, size=a.shape[-2:], mode="area").flatten(1) if a.ndim == 4 else w.flatten(1)
    total = grid.sum(1, keepdim=True)
    return (a.flatten(2) * grid[:, None]).sum(-1) / total.clamp_min(1e-12)


def roi_on_grid(mask: np.ndarray, box: tuple[int, int, int, int] | None, size: tuple[int, int]) -> torch.Tensor:
    """(N, Y, X) ROI -> (N, size) area weights on the network's input grid: cropped to ``box`` (the bundle's
    foreground crop; outside the image: 0), then resized."""
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[:, None]
    if box is not None:
        top, left, bh, bw = box
        h, w = m.shape[-2:]
        pad = (max(0, -left), max(0, left + bw - w), max(0, -top), max(0, top + bh - h))
        m = F.pad(m, pad)
        top, left = top + pad[2], left + pad[0]
        m = m[..., top:top + bh, left:left + bw]
    return F.interpolate(m, size=size, mode="area")[:, 0]


def unit_embeddings(bundle: Any, unit: Unit, mask: np.ndarray) -> np.ndarray:
    """(Z, D) features of a unit's slices pooled over ``mask`` (Z, Y, X), as the bundle preprocesses them."""
    from tumorscope.preprocess.crop import foreground_box

    pre = bundle.preprocessor
    path = unit.stack.samples[0].image if unit.stack.samples else unit.stack.id
    x = pre.tensor(unit.stack.images, path)  # the whole volume: per-volume normalisation and crop as in predict
    box = foreground_box(torch.from_numpy(pre.arrays(unit.stack.images, path))) if pre.crop == "foreground" else None
    weights = roi_on_grid(mask, box, (int(x.shape[-2]), int(x.shape[-1])))
    used = np.flatnonzero(mask.reshape(len(mask), -1).any(1))  # slices without ROI pixels are not run: zeros
    feats = np.zeros((len(mask), 0))
    if len(used):
        found = embed(bundle.model, x[used], weights[used])
        feats = np.zeros((len(mask), found.shape[1]))
        feats[used] = found
    return feats


def deep_rows(samples: list[Sample], options: Options, bundle: Any) -> Iterator[dict[str, Any]]:
    """The rows of ``samples``: ids, ROI bookkeeping and ``deep_000``... per ROI mode and slice (or volume)."""
    for unit, level in patient_units(samples, options):
        if unit.is_volume_file:
            raise TumorscopeError("deep features read 2-D slices and images; volume files are not supported yet",
                                  unit.stack.id)
        for mode, mask in unit.masks.items():
            area = mask.reshape(len(mask), -1).sum(1)
            feats = unit_embeddings(bundle, unit, mask) if area.any() else np.zeros((len(mask), 0))
            for ids, keep in unit_ids(unit, level):
                pixels = int(area[keep].sum())
                row: dict[str, Any] = {**ids, "roi": mode, "roi_status": "ok" if pixels else "empty",
                                       "roi_pixels": pixels}
                if pixels:
                    vec = (feats[keep] * area[keep, None]).sum(0) / pixels
                    row.update({f"{PREFIX}_{i:03d}": float(v) for i, v in enumerate(vec)})
                yield row
