"""A bundle's weights file: how weights are shrunk for storage and read back.

New bundles store ``weights.safetensors`` (a flat tensor table: no pickled code runs on load); bundles made
before that keep their ``weights.pt`` (a ``torch.save``d state dict) and load as they always did. Either file
holds the *stored* tensors of :func:`encode_weights` (float32, float16, or int8 + per-channel scales).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tumorscope.bundle import WEIGHT_DTYPES
from tumorscope.errors import TumorscopeError

WEIGHTS_FILE = "weights.safetensors"  # what new bundles write
LEGACY_WEIGHTS_FILE = "weights.pt"  # what bundles made before safetensors hold
PIPELINE_FILE = "pipeline.joblib"  # a classical model's fitted scikit-learn pipeline (bundle/classical.py)
_SCALE = ".__int8_scale__"

if TYPE_CHECKING:  # torch loads when weights are read: finding a bundle's file does not need it
    import torch


def find_weights(folder: Path) -> Path | None:
    """The weights file of a bundle folder (safetensors first, then the legacy ``weights.pt``; a classical
    bundle's fitted pipeline), if any."""
    for name in (WEIGHTS_FILE, LEGACY_WEIGHTS_FILE, PIPELINE_FILE):
        if (folder / name).is_file():
            return folder / name
    return None


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The stored tensors of a weights file, on the CPU, exactly as written (dtypes kept)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        import torch

        state = torch.load(path, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable weights file is the user's file problem
        raise TumorscopeError(f"cannot read the weights ({type(exc).__name__}: {exc})", path) from exc
    if not isinstance(state, dict):
        raise TumorscopeError("is not a state dict (a dict of tensors)", path)
    return state


def write_weights(state: dict[str, torch.Tensor], path: Path) -> None:
    """Write stored tensors as safetensors (each tensor its own contiguous copy: safetensors refuses shared
    storage, which tied or sliced parameters would have)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous().clone() for k, v in state.items()}, str(path),
              metadata={"format": "pt"})


def _per_channel(scale: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-output-channel scale shaped to broadcast over ``like`` (channels first)."""
    return scale.view(-1, *[1] * (like.ndim - 1))


def encode_weights(model: torch.nn.Module, dtype: str = "float32") -> dict[str, torch.Tensor]:
    """``model``'s state dict for storage. ``float16`` halves the size; ``int8`` quarters it: every weight
    matrix / conv kernel becomes int8 with one float32 scale per output channel (symmetric, max-abs), the small
    1-D tensors (biases, norms) stay float16. Loading (:func:`decode_weights`) turns both back into float32."""
    import torch

    if dtype not in WEIGHT_DTYPES:
        raise ValueError(f"weights dtype must be one of {WEIGHT_DTYPES}, not {dtype!r}")
    out: dict[str, torch.Tensor] = {}
    for key, v in model.state_dict().items():
        if not v.is_floating_point() or dtype == "float32":
            out[key] = v
        elif dtype == "int8" and v.ndim >= 2:
            scale = v.detach().abs().flatten(1).amax(1).clamp_min(1e-12) / 127.0
            out[key] = torch.round(v / _per_channel(scale, v)).to(torch.int8)
            out[key + _SCALE] = scale.float()
        else:
            out[key] = v.half()
    return out


def decode_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float32 state dict of stored weights (any of :data:`WEIGHT_DTYPES`)."""
    out: dict[str, torch.Tensor] = {}
    for key, v in state.items():
        if key.endswith(_SCALE):
            continue
        scale = state.get(key + _SCALE)
        if scale is not None:
            out[key] = v.float() * _per_channel(scale, v)
        else:
            out[key] = v.float() if v.is_floating_point() else v
    return out


def as_stored(model: torch.nn.Module, dtype: str) -> torch.nn.Module:
    """``model`` with its weights rounded as a bundle would store them in ``dtype`` (in place), so that
    whatever is chosen or scored on it afterwards is what the saved bundle will compute."""
    if dtype != "float32":
        model.load_state_dict(decode_weights(encode_weights(model, dtype)))
    return model


def smallest_dtype_that_fits(model: torch.nn.Module, limit_bytes: int) -> str:
    """The most precise of :data:`WEIGHT_DTYPES` whose stored weights stay under ``limit_bytes``."""
    for dtype in WEIGHT_DTYPES:
        size = sum(v.numel() * v.element_size() for v in encode_weights(model, dtype).values())
        if size <= limit_bytes:
            return dtype
    raise ValueError(f"the weights do not fit in {limit_bytes / 2**20:.1f} MiB even as int8")
