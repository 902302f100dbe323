"""Which layer to explain and what a network "sees": target-layer choice and penultimate embeddings.

The target layer is found by one probing forward pass, so it works for any network of the registry:
for segmentation the deepest feature map with the most channels (the U-Net bottleneck; skip-connection
concatenations excluded), taken after its last activation, as Grad-CAM assumes (MONAI's residual units
end in a signed sum, which measured worse on validation patients: docs/explainability.md); for
classification the last feature map that still has a spatial extent (``layer4`` of a ResNet, the last
conv block of a small CNN) before global pooling.
"""

from __future__ import annotations

import torch
from torch import nn

from tumorscope.errors import TumorscopeError

ACTIVATIONS = (nn.ReLU, nn.PReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.ReLU6)


def _feature_maps(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape) of every submodule giving a per-image 4-D map, in the order they finish."""
    seen: list[tuple[str, tuple[int, ...]]] = []
    hooks = []
    for name, mod in model.named_modules():
        if not name or type(mod).__name__ == "SkipConnection":
            continue

        def hook(_m: nn.Module, _i: object, out: object, name: str = name) -> None:
            if isinstance(out, torch.Tensor) and out.ndim == 4 and out.shape[0] == x.shape[0]:
                seen.append((name, tuple(out.shape)))

        hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return seen


def target_layer(model: nn.Module, x: torch.Tensor, task: str) -> str:
    """The name of the submodule Grad-CAM should use (see module docstring)."""
    maps = _feature_maps(model, x[:1])
    if task == "segmentation":
        if maps:
            area = min(s[2] * s[3] for _, s in maps)
            deepest = [(n, s) for n, s in maps if s[2] * s[3] == area]
            most = max(s[1] for _, s in deepest)
            names = [n for n, s in deepest if s[1] == most]
            modules = dict(model.named_modules())
            activated = [n for n in names if isinstance(modules[n], ACTIVATIONS)]
            return (activated or names)[-1]
    else:
        spatial = [n for n, s in maps if s[2] * s[3] > 1] or [n for n, _ in maps]
        if spatial:
            return spatial[-1]
    raise TumorscopeError(
        f"{type(model).__name__} has no convolutional feature map for Grad-CAM; use saliency, ig or occlusion"
    )


def _last_linear(model: nn.Module) -> nn.Linear | None:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


@torch.no_grad()
def embeddings(model: nn.Module, x: torch.Tensor, task: str, layer: str, batch_size: int = 32) -> tuple[
    torch.Tensor, torch.Tensor
]:
    """(features (N, F), outputs) for a batch: the input of a classifier's last linear layer, or the
    target layer's map averaged over space (segmentation bottleneck); ``outputs`` are the logits."""
    model.eval()
    head = _last_linear(model) if task != "segmentation" else None
    module = head if head is not None else dict(model.named_modules())[layer]
    got: list[torch.Tensor] = []
    if head is not None:
        handle = module.register_forward_pre_hook(lambda _m, inp: got.append(inp[0].flatten(1)))
    else:
        handle = module.register_forward_hook(lambda _m, _i, out: got.append(out.float().mean(dim=(2, 3))))
    feats, outs = [], []
    try:
        for i in range(0, x.shape[0], batch_size):
            got.clear()
            outs.append(model(x[i : i + batch_size]).float())
            feats.append(got[-1].float())
    finally:
        handle.remove()
    return torch.cat(feats), torch.cat(outs)
