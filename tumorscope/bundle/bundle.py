"""Bundles on disk: ``config.json`` + ``weights.pt`` (+ ``card.md``), verified by SHA-256 on load.

A bundle is what predict, evaluate, explain and serve load; it carries its preprocessing, so a model can
never be run with the wrong normalisation. Bundles shipped with tumorscope live in ``bundle/zoo/<name>/``
and resolve by name (``--model lgg-flair-seg``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tumorscope.atomic import atomic_path
from tumorscope.bundle import WEIGHT_DTYPES
from tumorscope.errors import TumorscopeError
from tumorscope.preprocess.pipeline import Preprocessor

ZOO = Path(__file__).parent / "zoo"
FORMAT_VERSION = 1


@dataclass
class Bundle:
    path: Path
    config: dict[str, Any]
    _model: torch.nn.Module | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return str(self.config.get("name", self.path.name))

    @property
    def task(self) -> str:
        return str(self.config["task"])

    @property
    def classes(self) -> list[str]:
        return list(self.config.get("classes", []))

    @property
    def preprocessor(self) -> Preprocessor:
        return Preprocessor.from_dict(self.config["preprocessing"])

    @property
    def postprocess(self) -> Any:
        from tumorscope.predict.postprocess import PostProcess

        return PostProcess.from_dict(self.config.get("postprocessing", {}))

    @property
    def tta(self) -> bool:
        """Classification: average the probabilities of the image and its left-right mirror (chosen on
        validation images when the bundle was made; ``predict/evaluate --tta/--no-tta`` override it)."""
        return bool(self.config.get("inference", {}).get("tta", False))

    @property
    def card(self) -> str:
        card = self.path / "card.md"
        return card.read_text() if card.exists() else ""

    @property
    def model(self) -> torch.nn.Module:
        """The network with its weights, in eval mode (built on first use)."""
        if self._model is None:
            from tumorscope.models import build_model

            spec = self.config["model"]
            net = build_model(spec["name"], spec["in_channels"], spec["out_channels"], **spec.get("options", {}))
            weights = self.path / "weights.pt"
            state = torch.load(weights, map_location="cpu")
            net.load_state_dict(decode_weights(state))
            net.eval()
            self._model = net
        return self._model


_SCALE = ".__int8_scale__"


def _per_channel(scale: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-output-channel scale shaped to broadcast over ``like`` (channels first)."""
    return scale.view(-1, *[1] * (like.ndim - 1))


def encode_weights(model: torch.nn.Module, dtype: str = "float32") -> dict[str, torch.Tensor]:
    """``model``'s state dict for storage. ``float16`` halves the size; ``int8`` quarters it: every weight
    matrix / conv kernel becomes int8 with one float32 scale per output channel (symmetric, max-abs), the small
    1-D tensors (biases, norms) stay float16. Loading (:func:`decode_weights`) turns both back into float32."""
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


def save_bundle(
    out: str | Path,
    model: torch.nn.Module,
    config: dict[str, Any],
    card: str | None = None,
    weights_dtype: str = "float32",
) -> Bundle:
    """Write a bundle folder atomically. ``config`` needs ``task``, ``model`` ({name, in_channels,
    out_channels, options}) and ``preprocessing``; ``weights_dtype`` (:func:`encode_weights`) shrinks the file."""
    for key in ("task", "model", "preprocessing"):
        if key not in config:
            raise ValueError(f"bundle config needs {key!r}")
    out = Path(out)
    state = encode_weights(model, weights_dtype)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        torch.save(state, tmp / "weights.pt")
        cfg = {k: v for k, v in config.items() if k != "weights_dtype"}
        cfg.update(format_version=FORMAT_VERSION, weights_sha256=sha256(tmp / "weights.pt"))
        if weights_dtype != "float32":
            cfg["weights_dtype"] = weights_dtype
        (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        if card:
            (tmp / "card.md").write_text(card)
    return Bundle(out, cfg)


def load_bundle(name_or_path: str | Path, verify: bool = True) -> Bundle:
    """A bundle from a zoo name, a bundle folder, or a training run folder (its ``bundle/``)."""
    path = _resolve(name_or_path)
    try:
        config = json.loads((path / "config.json").read_text())
    except json.JSONDecodeError as exc:
        raise TumorscopeError(f"config.json is not valid JSON ({exc})", path / "config.json") from exc
    weights = path / "weights.pt"
    if not weights.exists():
        raise TumorscopeError("bundle has no weights.pt", path)
    if verify and config.get("weights_sha256") and sha256(weights) != config["weights_sha256"]:
        raise TumorscopeError("weights.pt does not match the checksum in config.json (corrupt or edited)", weights)
    return Bundle(path, config)


def zoo_models() -> list[Bundle]:
    """The bundles shipped with tumorscope."""
    if not ZOO.is_dir():
        return []
    return [load_bundle(p, verify=False) for p in sorted(ZOO.iterdir()) if (p / "config.json").exists()]


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    for cand in (p, p / "bundle"):
        if (cand / "config.json").exists() and (cand / "weights.pt").exists():
            return cand
    if (ZOO / str(name_or_path) / "config.json").exists():
        return ZOO / str(name_or_path)
    if p.exists():
        raise TumorscopeError("not a tumorscope bundle or run folder (no config.json + weights.pt)", p)
    known = ", ".join(b.name for b in zoo_models()) or "none installed"
    raise TumorscopeError(f"no such model (bundled models: {known})", p)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
