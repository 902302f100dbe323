"""Which layer to explain and what a network "sees": target-layer choice, the one way to reach the layers of
an ensemble's members, and penultimate embeddings.

The target layer is found by one probing forward pass, so it works for any network of the registry:
for segmentation the deepest feature map with the most channels (the U-Net bottleneck; skip-connection
concatenations excluded), taken after its last activation, as Grad-CAM assumes (MONAI's residual units
end in a signed sum, which measured worse on validation patients: docs/explainability.md); for
classification the last feature map that still has a spatial extent (``layer4`` of a ResNet, the last
conv block of a small CNN) before global pooling.

An ensemble (:class:`~tumorscope.models.ensemble.ProbabilityEnsemble`) is several networks: every hook-based
tool asks :func:`member_layers` for one layer per member, and :func:`for_input` keeps those of the members that
vote on a given batch (a member that does not vote never runs, so a hook on it would never fire).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tumorscope.errors import TumorscopeError
from tumorscope.models.ensemble import ProbabilityEnsemble

ACTIVATIONS = (nn.ReLU, nn.PReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.ReLU6)


@dataclass(frozen=True)
class MemberLayer:
    """A layer of one network inside a model: ``member`` is the ensemble member's index (None for a plain
    network), ``prefix`` that network's name in the model (``members.2.`` or ``""``), ``layer`` the name inside it."""

    member: int | None
    prefix: str
    layer: str

    @property
    def path(self) -> str:
        """The layer's name in the whole model (``model.named_modules()``)."""
        return self.prefix + self.layer


def networks(model: nn.Module) -> list[tuple[int | None, nn.Module]]:
    """(member index, network) of every network inside ``model``: an ensemble's members, else the model."""
    if isinstance(model, ProbabilityEnsemble):
        return list(enumerate(model.members))
    return [(None, model)]


def network_input(model: nn.Module, member: int | None, x: torch.Tensor) -> torch.Tensor:
    """What network ``member`` reads of the model's input ``x`` (its channels, at its size)."""
    return model.member_input(member, x) if isinstance(model, ProbabilityEnsemble) and member is not None else x


def _voters(model: nn.Module, x: torch.Tensor) -> set[int | None]:
    if isinstance(model, ProbabilityEnsemble):
        return set(model.voters(x))
    return {None}


def member_layers(
    model: nn.Module, x: torch.Tensor, task: str, layer: str | None = None, voting: bool = True
) -> list[MemberLayer]:
    """One layer per network of ``model`` (see module docstring), in member order; with ``voting`` only the
    networks that run on ``x``. ``layer`` overrides the choice: a name inside every member (or inside a plain
    network), or one member's full name (``members.1.<name>``)."""
    out = []
    for member, net in networks(model):
        prefix = "" if member is None else f"members.{member}."
        names = dict(net.named_modules())
        if layer is None:
            name = target_layer(net, network_input(model, member, x[:1]), task)
        elif layer in names:
            name = layer
        elif prefix and layer.startswith(prefix) and layer[len(prefix):] in names:
            name = layer[len(prefix):]
        else:
            continue
        out.append(MemberLayer(member, prefix, name))
    if not out:
        raise TumorscopeError(f"no layer {layer!r} in {type(model).__name__} (see named_modules())")
    return for_input(model, x, out) if voting else out


def for_input(model: nn.Module, x: torch.Tensor, layers: list[MemberLayer]) -> list[MemberLayer]:
    """The ``layers`` of the networks that run on the batch ``x`` (an ensemble's voters)."""
    voters = _voters(model, x)
    kept = [p for p in layers if p.member in voters]
    if not kept:
        raise TumorscopeError(
            f"layer {', '.join(p.path for p in layers)} is in a member that does not vote on this input (members "
            f"{sorted(v for v in voters if v is not None)} do: all input channels are equal); choose another --layer"
        )
    return kept


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
    """The name of the submodule of one network that Grad-CAM should use (see module docstring); for an
    ensemble use :func:`member_layers`."""
    if isinstance(model, ProbabilityEnsemble):
        raise TypeError("an ensemble has one target layer per member: use member_layers()")
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
def embeddings(
    model: nn.Module, x: torch.Tensor, task: str, layer: str | None = None, batch_size: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (N, F), outputs) for a batch: the input of a classifier's last linear layer, or the target
    layer's map averaged over space (segmentation bottleneck); ``outputs`` are the model's logits.

    An ensemble's features are its members' features side by side, every member run on its own input (voting
    or not), so F is the same for every batch."""
    model.eval()
    layers = member_layers(model, x, task, layer, voting=False)
    nets = dict(networks(model))
    feats, outs = [], []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size]
        parts = [_features(nets[p.member], network_input(model, p.member, xb), task, p) for p in layers]
        feats.append(torch.cat([f for f, _ in parts], dim=1))
        outs.append(parts[0][1] if layers[0].member is None else model(xb).float())  # a plain network ran once
    return torch.cat(feats), torch.cat(outs)


def _features(net: nn.Module, x: torch.Tensor, task: str, where: MemberLayer) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, F) features and the outputs of one network (see :func:`embeddings`), from one forward pass."""
    head = _last_linear(net) if task != "segmentation" else None
    got: list[torch.Tensor] = []
    if head is not None:
        handle = head.register_forward_pre_hook(lambda _m, inp: got.append(inp[0].flatten(1)))
    else:
        module = dict(net.named_modules())[where.layer]
        handle = module.register_forward_hook(lambda _m, _i, out: got.append(out.float().mean(dim=(2, 3))))
    try:
        out = net(x).float()
    finally:
        handle.remove()
    if not got:
        raise TumorscopeError(f"layer {where.path} did not run in a forward pass of {type(net).__name__}")
    return got[-1].float(), out
