"""Transfer learning without downloads: start a network from any local checkpoint.

``--init`` accepts a bundle folder or zoo name, a training run folder (its bundle, else ``best.pt``), a
``tumorscope pretrain`` run folder (its ``encoder.pt``), one member of an ensemble bundle (``--init-member K``),
or a ``.pt`` file holding a plain state_dict (MONAI or otherwise; ``{"model": ...}`` / ``{"state_dict": ...}``
wrappers and ``module.`` prefixes are unwrapped). Tensors are copied by name when shapes match; a head
of another class count is skipped (logged), and a first convolution trained on RGB is summed to gray
(or gray repeated to RGB) so weights pretrained on either kind of image can be used.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tumorscope.bundle import load_bundle
from tumorscope.bundle.weights import find_weights, read_weights
from tumorscope.errors import TumorscopeError

log = logging.getLogger(__name__)
_MEMBER = re.compile(r"^members\.(\d+)\.")


def read_state_dict(source: str | Path, member: int | None = None) -> tuple[Path, dict[str, torch.Tensor]]:
    """The weights behind ``source`` and the file they came from; of an ensemble (``members.K.`` tensors, as
    ``tumorscope ensemble`` bundles them) only those of member ``member``, named as a lone network's."""
    p = Path(source)
    if p.is_dir() and (p / "encoder.pt").exists():
        p = p / "encoder.pt"  # a `tumorscope pretrain` run: its self-supervised encoder
    elif p.is_dir() and find_weights(p) is None and find_weights(p / "bundle") is None:
        p = p / "best.pt"  # a run folder without a bundle (stopped early): its best weights
    if not p.is_file():
        p = load_bundle(source, verify=False).weights_path
    try:
        state = read_weights(p) if p.suffix == ".safetensors" else torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error
        raise TumorscopeError(f"cannot read checkpoint ({type(exc).__name__}: {exc})", p) from exc
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise TumorscopeError("is not a state_dict (a dict of tensors) or a checkpoint holding one", p)
    return p, _member({k.removeprefix("module."): v for k, v in state.items()}, member, p)


def _member(state: dict[str, torch.Tensor], member: int | None, path: Path) -> dict[str, torch.Tensor]:
    """Member ``member``'s tensors of an ensemble's state_dict, the ``members.K.`` prefix taken off (a lone
    network's state_dict as it is, when no member is asked for)."""
    ids = sorted({int(m[1]) for k in state if (m := _MEMBER.match(k))})
    ensemble = bool(ids) and all(_MEMBER.match(k) for k in state)
    if member is None:
        if not ensemble:
            return state
        if len(ids) > 1:
            raise TumorscopeError(f"is an ensemble of {len(ids)} networks: choose the one to start from with "
                                  f"--init-member 0..{max(ids)}", path)
        member = ids[0]
    if not ensemble or member not in ids:
        what = f"an ensemble of {len(ids)} networks (0..{max(ids)})" if ensemble else "not an ensemble"
        raise TumorscopeError(f"has no member {member}: it is {what}", path)
    prefix = f"members.{member}."
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def load_init(model: nn.Module, source: str | Path, member: int | None = None) -> dict[str, Any]:
    """Copy every fitting tensor of ``source`` (of its ensemble member ``member``) into ``model``; returns what was
    loaded, adapted and skipped."""
    path, src = read_state_dict(source, member)
    target = model.state_dict()
    loaded, adapted, skipped = [], [], []
    for key, t in target.items():
        s = src.get(key)
        if s is None:
            continue
        if s.shape == t.shape:
            target[key] = s.to(t.dtype)
            loaded.append(key)
        elif s.ndim == 4 and s.shape[0] == t.shape[0] and s.shape[2:] == t.shape[2:] and {s.shape[1], t.shape[1]} == {1, 3}:
            w = s.float().sum(1, keepdim=True) if t.shape[1] == 1 else s.float().repeat(1, 3, 1, 1) / 3
            target[key] = w.to(t.dtype)
            adapted.append(key)
        else:
            skipped.append(key)
    if not loaded:
        raise TumorscopeError(
            f"no tensor fits the {type(model).__name__} being trained: is it a checkpoint of the same architecture?",
            path,
        )
    model.load_state_dict(target)
    if skipped:
        log.info("init: skipped %d tensor(s) whose shape differs (a new head?): %s", len(skipped), ", ".join(skipped))
    if adapted:
        log.info("init: adapted the input channels of %s", ", ".join(adapted))
    log.info("init: loaded %d of %d tensors from %s", len(loaded) + len(adapted), len(target), path)
    return {
        "source": str(path),
        "member": member,
        "loaded": len(loaded) + len(adapted),
        "total": len(target),
        "skipped_shape_mismatch": skipped,
        "adapted_input_channels": adapted,
        "not_in_checkpoint": len(target) - len(loaded) - len(adapted) - len(skipped),
    }
